import { describe, expect, it, vi } from "vitest";
import { ConfigError, loadConfig, parseConfig } from "./config";

const CONFIG = {
  environment: "dev",
  apiBaseUrl: "/api",
  basePath: "/ui/",
  auth: {
    clientId: "spa-client",
    authority: "https://localhost:8443/dev-issuer/tenant",
    tenantId: "tenant",
    redirectUri: "https://localhost:8443/ui/",
    postLogoutRedirectUri: "https://localhost:8443/ui/",
    scopes: ["api://api-client/access_as_user"],
    knownAuthorities: ["localhost:8443"],
  },
  features: { devIssuer: true },
  build: { version: "1.2.3", commit: "abc" },
};

/** A document whose #portico-config element holds `text` (none when null). */
function docWith(text: string | null) {
  const element = text === null ? null : { textContent: text };
  return { getElementById: (id: string) => (id === "portico-config" ? element : null) };
}

describe("loadConfig", () => {
  it("reads the inlined element without fetching", async () => {
    const fetchFn = vi.fn();
    const config = await loadConfig(docWith(JSON.stringify(CONFIG)), fetchFn);
    expect(config.auth.clientId).toBe("spa-client");
    expect(config.basePath).toBe("/ui/");
    expect(fetchFn).not.toHaveBeenCalled();
  });

  it("fetches /config.json when the page has no inlined config", async () => {
    const fetchFn = vi.fn(async () => new Response(JSON.stringify(CONFIG)));
    const config = await loadConfig(docWith(null), fetchFn);
    expect(fetchFn).toHaveBeenCalledWith("/config.json", expect.anything());
    expect(config.environment).toBe("dev");
  });

  it("says which status config.json answered with", async () => {
    const fetchFn = vi.fn(async () => new Response("", { status: 503 }));
    await expect(loadConfig(docWith(null), fetchFn)).rejects.toThrow("config.json answered 503");
  });

  it("refuses an inlined element that is not JSON", async () => {
    await expect(loadConfig(docWith("{nope"), vi.fn())).rejects.toThrow(ConfigError);
  });
});

describe("parseConfig", () => {
  it.each([
    [
      "an http authority",
      { auth: { ...CONFIG.auth, authority: "http://localhost/t" } },
      "auth.authority must be https",
    ],
    ["a missing client id", { auth: { ...CONFIG.auth, clientId: "" } }, "auth.clientId"],
    ["scopes that are not a list", { auth: { ...CONFIG.auth, scopes: "a b" } }, "auth.scopes"],
    ["a base path without a trailing slash", { basePath: "/ui" }, "basePath"],
  ])("refuses %s, naming the field", (_, change, message) => {
    expect(() => parseConfig({ ...CONFIG, ...change })).toThrow(message);
  });

  it("drops a trailing slash from apiBaseUrl so paths join cleanly", () => {
    expect(parseConfig({ ...CONFIG, apiBaseUrl: "/api/" }).apiBaseUrl).toBe("/api");
  });
});
