"use strict";
// On the Swagger UI page: finishes an OAuth2 sign-in whose pop-up answered through the
// "portico-swagger-oauth2" BroadcastChannel (see oauth2-redirect.js). Swagger UI's own
// redirect page calls back through window.opener instead, which Cross-Origin-Opener-Policy
// severs as soon as the pop-up visits the authority. This does what that page does, except
// that a state mismatch is refused rather than merely warned about.
(() => {
  const channel = new BroadcastChannel("portico-swagger-oauth2");
  channel.onmessage = (event) => {
    const pending = window.swaggerUIRedirectOauth2;
    if (!pending || typeof event.data !== "string") {
      return;
    }
    const answer = Object.fromEntries(new URLSearchParams(event.data));
    const auth = pending.auth;
    const fail = (message) =>
      pending.errCb({ authId: auth.name, source: "auth", level: "error", message });
    if (answer.state !== pending.state) {
      fail("Sign-in refused: the state sent back is not the one this page sent.");
      return;
    }
    delete window.swaggerUIRedirectOauth2; // one answer per sign-in
    if (answer.code) {
      auth.code = answer.code;
      pending.callback({ auth, redirectUrl: pending.redirectUrl });
      return;
    }
    const reason = answer.error
      ? `[${answer.error}]: ${answer.error_description || "no code received"}`
      : "[Authorization failed]: no code received from the server";
    fail(reason);
  };
})();
