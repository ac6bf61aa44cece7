/**
 * Calls to Portico's API with a bearer token, and the error bodies it answers with
 * (`{detail, code, ...}`; a 403 `insufficient_scope` lists the missing permissions in
 * `required`).
 */

export interface ApiErrorBody {
  detail?: unknown;
  code?: unknown;
  required?: unknown;
}

export class ApiError extends Error {
  override name = "ApiError";

  constructor(
    readonly status: number,
    readonly body: ApiErrorBody,
  ) {
    super(describeError(status, body));
  }
}

/** Missing permissions named by a 403 body, as the API spells them (`app_label.codename`). */
export function missingPermissions(body: ApiErrorBody): string[] {
  const { required } = body;
  return Array.isArray(required) ? required.filter((p): p is string => typeof p === "string") : [];
}

/** What to show a person for an error answer. */
export function describeError(status: number, body: ApiErrorBody): string {
  const missing = missingPermissions(body);
  if (status === 403 && missing.length > 0) {
    const noun = missing.length === 1 ? "permission" : "permissions";
    return `You do not have the ${noun} ${missing.join(", ")}.`;
  }
  if (typeof body.detail === "string" && body.detail !== "") return body.detail;
  if (body.detail && typeof body.detail === "object") return fieldErrors(body.detail);
  return `The API answered ${status}.`;
}

/** DRF validation errors (`{"name": ["..."]}`) as one line. */
function fieldErrors(detail: object): string {
  return Object.entries(detail)
    .map(([field, messages]) => `${field}: ${[messages].flat().join(" ")}`)
    .join("; ");
}

export type TokenSource = (forceRefresh: boolean) => Promise<string>;

/**
 * `fetch` with the token; a 401 (the API no longer accepts that token) gets one retry with
 * a token acquired afresh, which may mean a silent refresh or an interactive sign-in.
 */
export async function apiFetch<T>(
  baseUrl: string,
  path: string,
  token: TokenSource,
  init: RequestInit = {},
  fetchFn: typeof fetch = fetch,
): Promise<T> {
  const call = async (forceRefresh: boolean) =>
    fetchFn(`${baseUrl}${path}`, {
      ...init,
      headers: {
        Accept: "application/json",
        ...(init.body ? { "Content-Type": "application/json" } : {}),
        ...init.headers,
        Authorization: `Bearer ${await token(forceRefresh)}`,
      },
    });
  let response = await call(false);
  if (response.status === 401) response = await call(true);
  if (!response.ok) throw new ApiError(response.status, await errorBody(response));
  return (response.status === 204 ? undefined : await response.json()) as T;
}

async function errorBody(response: Response): Promise<ApiErrorBody> {
  try {
    const body: unknown = await response.json();
    return typeof body === "object" && body !== null ? (body as ApiErrorBody) : {};
  } catch {
    return {};
  }
}
