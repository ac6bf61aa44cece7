/**
 * The runtime configuration: read from the `#portico-config` element that the Django shell
 * inlines, or fetched from `/config.json` when the page was served some other way (the Vite
 * dev server, a static host). Nothing environment-specific is baked into the bundle.
 */

export interface AuthConfig {
  clientId: string;
  authority: string;
  tenantId: string;
  redirectUri: string;
  postLogoutRedirectUri: string;
  scopes: string[];
  knownAuthorities: string[];
}

export interface RuntimeConfig {
  environment: string;
  apiBaseUrl: string;
  basePath: string;
  auth: AuthConfig;
  features: Record<string, boolean>;
  build: { version: string; commit: string };
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

const ELEMENT_ID = "portico-config";

/** The part of `document` the loader uses. */
export interface ElementSource {
  getElementById(id: string): { textContent: string | null } | null;
}

type JsonObject = Record<string, unknown>;

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function text(obj: JsonObject, key: string, where: string): string {
  const value = obj[key];
  if (typeof value !== "string" || value === "") {
    throw new ConfigError(`Runtime config: ${where}${key} must be a non-empty string`);
  }
  return value;
}

function texts(obj: JsonObject, key: string, where: string): string[] {
  const value = obj[key];
  if (!Array.isArray(value) || !value.every((item) => typeof item === "string")) {
    throw new ConfigError(`Runtime config: ${where}${key} must be a list of strings`);
  }
  return value;
}

/** Validates the parsed JSON: a clear message beats MSAL failing obscurely later on. */
export function parseConfig(raw: unknown): RuntimeConfig {
  if (!isObject(raw) || !isObject(raw.auth)) {
    throw new ConfigError("Runtime config: expected an object with an auth section");
  }
  const auth = raw.auth;
  const authority = text(auth, "authority", "auth.");
  if (!authority.startsWith("https://")) {
    throw new ConfigError(`Runtime config: auth.authority must be https, got ${authority}`);
  }
  const basePath = text(raw, "basePath", "");
  if (!basePath.startsWith("/") || !basePath.endsWith("/")) {
    throw new ConfigError(`Runtime config: basePath must start and end with "/", got ${basePath}`);
  }
  const build = isObject(raw.build) ? raw.build : {};
  return {
    environment: text(raw, "environment", ""),
    apiBaseUrl: text(raw, "apiBaseUrl", "").replace(/\/+$/, ""),
    basePath,
    auth: {
      clientId: text(auth, "clientId", "auth."),
      authority,
      tenantId: text(auth, "tenantId", "auth."),
      redirectUri: text(auth, "redirectUri", "auth."),
      postLogoutRedirectUri: text(auth, "postLogoutRedirectUri", "auth."),
      scopes: texts(auth, "scopes", "auth."),
      knownAuthorities: texts(auth, "knownAuthorities", "auth."),
    },
    features: isObject(raw.features)
      ? Object.fromEntries(Object.entries(raw.features).map(([k, v]) => [k, v === true]))
      : {},
    build: { version: String(build.version ?? ""), commit: String(build.commit ?? "") },
  };
}

/** The inlined element's JSON, or `/config.json` when the page has none. */
export async function loadConfig(
  doc: ElementSource = document,
  fetchFn: typeof fetch = fetch,
): Promise<RuntimeConfig> {
  const inlined = doc.getElementById(ELEMENT_ID)?.textContent?.trim();
  if (inlined) {
    try {
      return parseConfig(JSON.parse(inlined));
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      throw new ConfigError(`Runtime config: #${ELEMENT_ID} is not valid JSON`);
    }
  }
  const response = await fetchFn("/config.json", { headers: { Accept: "application/json" } });
  if (!response.ok) {
    throw new ConfigError(`Runtime config: config.json answered ${response.status}`);
  }
  return parseConfig(await response.json());
}
