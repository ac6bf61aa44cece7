/**
 * MSAL.js set-up and token acquisition.
 *
 * Tokens live in sessionStorage (never localStorage: a token there outlives the tab and is
 * readable by any script on the origin for ever). Silent acquisition uses the cache and the
 * refresh token only, never a hidden iframe: the shell forbids framing (`frame-ancestors
 * 'none'`) and third-party cookies are going away, so when the refresh token is refused the
 * user is sent through an interactive redirect instead.
 */
import {
  AuthError,
  CacheLookupPolicy,
  InteractionRequiredAuthError,
  PublicClientApplication,
  type AccountInfo,
  type IPublicClientApplication,
} from "@azure/msal-browser";
import type { RuntimeConfig } from "./config";

export function createMsal(config: RuntimeConfig): PublicClientApplication {
  const { auth } = config;
  return new PublicClientApplication({
    auth: {
      clientId: auth.clientId,
      authority: auth.authority,
      knownAuthorities: auth.knownAuthorities,
      redirectUri: auth.redirectUri,
      postLogoutRedirectUri: auth.postLogoutRedirectUri,
    },
    cache: { cacheLocation: "sessionStorage" },
  });
}

/** Errors that only the user can resolve: sign in again (refresh token refused or absent). */
const INTERACTIVE_CODES = new Set(["invalid_grant", "token_refresh_required"]);

export function needsInteraction(error: unknown): boolean {
  return (
    error instanceof InteractionRequiredAuthError ||
    (error instanceof AuthError && INTERACTIVE_CODES.has(error.errorCode))
  );
}

/**
 * An access token for the API. `forceRefresh` skips the cached access token (the API said
 * it was no longer good: expired early, revoked, keys rotated). When silence fails, the page
 * navigates to the authority and this promise never settles.
 */
export async function acquireApiToken(
  msal: IPublicClientApplication,
  config: RuntimeConfig,
  account: AccountInfo,
  forceRefresh = false,
): Promise<string> {
  const request = { scopes: config.auth.scopes, account };
  try {
    const result = await msal.acquireTokenSilent({
      ...request,
      forceRefresh,
      cacheLookupPolicy: forceRefresh
        ? CacheLookupPolicy.RefreshToken
        : CacheLookupPolicy.AccessTokenAndRefreshToken,
    });
    return result.accessToken;
  } catch (error) {
    if (!needsInteraction(error)) throw error;
    await msal.acquireTokenRedirect(request);
    return new Promise<string>(() => {});
  }
}
