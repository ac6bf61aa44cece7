import { describe, expect, it, vi } from "vitest";
import { ApiError, apiFetch, describeError } from "./api";

describe("describeError", () => {
  it("names the missing permission of a 403 insufficient_scope", () => {
    const body = {
      detail: "The token's roles, groups and scopes do not grant projects.add_project",
      code: "insufficient_scope",
      required: ["projects.add_project"],
    };
    expect(describeError(403, body)).toBe("You do not have the permission projects.add_project.");
  });

  it("names every missing permission", () => {
    const body = { required: ["projects.change_project", "projects.view_project"] };
    expect(describeError(403, body)).toBe(
      "You do not have the permissions projects.change_project, projects.view_project.",
    );
  });

  it("falls back to the detail when no permission is named", () => {
    expect(describeError(403, { detail: "This endpoint needs a app token" })).toBe(
      "This endpoint needs a app token",
    );
  });

  it("flattens field errors of a 400", () => {
    const body = { detail: { name: ["A project with this name already exists."] } };
    expect(describeError(400, body)).toBe("name: A project with this name already exists.");
  });

  it("says the status when the body says nothing", () => {
    expect(describeError(502, {})).toBe("The API answered 502.");
  });
});

describe("apiFetch", () => {
  const json = (status: number, body: unknown) =>
    new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

  it("retries a 401 once with a freshly acquired token", async () => {
    const token = vi.fn(async (force: boolean) => (force ? "fresh" : "stale"));
    const fetchFn = vi
      .fn()
      .mockResolvedValueOnce(json(401, { detail: "expired", code: "invalid_token" }))
      .mockResolvedValueOnce(json(200, { name: "Rita Reader" }));
    const me = await apiFetch<{ name: string }>("/api", "/me", token, {}, fetchFn);
    expect(me.name).toBe("Rita Reader");
    expect(token.mock.calls).toEqual([[false], [true]]);
    expect(fetchFn.mock.calls[1][1].headers.Authorization).toBe("Bearer fresh");
  });

  it("raises an ApiError carrying the 403 body", async () => {
    const fetchFn = vi.fn().mockResolvedValue(json(403, { required: ["projects.add_project"] }));
    const call = apiFetch("/api", "/projects/", async () => "t", { method: "POST", body: "{}" }, fetchFn);
    await expect(call).rejects.toBeInstanceOf(ApiError);
    await expect(call).rejects.toThrow("projects.add_project");
  });
});
