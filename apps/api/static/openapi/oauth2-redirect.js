"use strict";
// The authority sent the sign-in pop-up back here: hand its answer (code and state, or an
// error) to the Swagger UI page on the same origin, then close. oauth2-relay.js receives it.
(() => {
  const answer = window.location.search.substring(1) || window.location.hash.substring(1);
  new BroadcastChannel("portico-swagger-oauth2").postMessage(answer);
  window.history.replaceState(null, "", window.location.pathname); // the code leaves the URL
  window.close();
})();
