import { BrowserAuthError, InteractionRequiredAuthError, ServerError } from "@azure/msal-browser";
import { describe, expect, it } from "vitest";
import { needsInteraction } from "./auth";

describe("needsInteraction", () => {
  it.each([
    ["interaction required", new InteractionRequiredAuthError("no_tokens_found", ""), true],
    ["a refresh token refused by the issuer", new ServerError("invalid_grant", "revoked"), true],
    ["a network failure", new BrowserAuthError("no_network_connectivity", ""), false],
    ["a plain error", new Error("boom"), false],
  ])("%s → %s", (_, error, expected) => {
    expect(needsInteraction(error)).toBe(expected);
  });
});
