"""The sample SPA signed in end to end in Debian's Chromium (issue 4, "Must show").

Through the dev issuer's persona picker: a reader sees their name and permissions from
``/api/me``, is refused a create with the missing permission named, signs out; an editor
signs in, creates and edits a project, signs out. A token the API refuses is replaced
silently, then (refresh token refused too) through sign-in again; the same build works under
``/ui/`` with deep links. Any console error, uncaught exception or CSP violation on any page
fails a test.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import TYPE_CHECKING

import pytest

from apps.dev_issuer.personas import PERSONAS
from config.env import DEV_TENANT_ID
from tests.browser.conftest import Problems, Server, why_skip

if TYPE_CHECKING:
    from collections.abc import Callable

    from playwright.sync_api import Page

expect = pytest.importorskip(
    "playwright.sync_api", reason="needs the playwright package (requirements-dev.txt)"
).expect
pytestmark = [
    pytest.mark.servers,
    pytest.mark.skipif(why_skip() is not None, reason=why_skip() or ""),
]


def sign_in(page: Page, server: Server, persona: str, path: str = "") -> None:
    """From ``path`` (under the base path), through the picker, back to the same page."""
    page.goto(f"{server.spa}{path}")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/dev-issuer/[^/]+/oauth2/v2\.0/authorize\?"))
    page.locator(f'button[data-persona="{persona}"]').click()
    page.wait_for_url(f"{server.spa}{path}")
    expect(page.get_by_test_id("user-name")).to_have_text(PERSONAS[persona].name)


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    assert _stored_token_keys(page, "sessionStorage") == []


def _stored_token_keys(page: Page, storage: str) -> list[str]:
    return page.evaluate(f"Object.keys({storage}).filter((key) => /token/i.test(key))")


def create_project(page: Page, name: str) -> None:
    page.get_by_role("link", name="Projects").click()
    page.get_by_label("Name").first.fill(name)
    page.get_by_role("button", name="Create").click()


def test_reader_is_refused_what_an_editor_then_does(
    portico: Server, page: Page, problems: Problems, screenshot: Callable[[str], None]
) -> None:

    sign_in(page, portico, "reader")
    expect(page.get_by_test_id("me-name")).to_have_text(PERSONAS["reader"].name)
    permissions = page.get_by_test_id("permissions")
    expect(permissions).to_contain_text("projects.view_project")
    expect(permissions).not_to_contain_text("projects.add_project")
    assert _stored_token_keys(page, "sessionStorage"), "MSAL keeps its tokens in sessionStorage"
    assert _stored_token_keys(page, "localStorage") == []
    screenshot("signed-in-reader")

    problems.expect_http_error(HTTPStatus.FORBIDDEN, f"{portico.origin}/api/projects/")
    create_project(page, "Zephyr")
    expect(page.get_by_test_id("action-error")).to_have_text(
        'Creating "Zephyr" failed: You do not have the permission projects.add_project.'
    )
    expect(page.get_by_role("cell", name="Apollo")).to_be_visible()
    screenshot("signed-in-reader-refused")
    sign_out(page)

    sign_in(page, portico, "editor")
    expect(page.get_by_test_id("permissions")).to_contain_text("projects.add_project")
    create_project(page, "Zephyr")
    expect(page.get_by_role("status")).to_have_text('Creating "Zephyr" done.')
    row = page.get_by_role("row").filter(has_text="Zephyr")
    expect(row).to_contain_text(PERSONAS["editor"].name)
    row.get_by_role("button", name="Edit").click()
    page.get_by_label("Description").last.fill("Edited in the browser test.")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("row").filter(has_text="Zephyr")).to_contain_text(
        "Edited in the browser test."
    )
    screenshot("signed-in-editor")
    sign_out(page)

    assert problems.seen == []


# Spoils the stored credentials of one type, as a revocation or a rotated key would.
SPOIL = """(type) => {
  for (const key of Object.keys(sessionStorage)) {
    const value = sessionStorage.getItem(key);
    if (!value.startsWith("{")) continue;
    const entry = JSON.parse(value);
    if (entry.credentialType !== type) continue;
    entry.secret = entry.secret.slice(0, -8) + "AAAAAAAA";
    sessionStorage.setItem(key, JSON.stringify(entry));
  }
}"""


def test_a_refused_token_is_replaced_silently_then_interactively(
    portico: Server, page: Page, problems: Problems
) -> None:
    projects = f"{portico.origin}/api/projects/"
    sign_in(page, portico, "editor")

    # The API refuses the access token: the refresh token gets a new one, no interaction.
    page.evaluate(SPOIL, "AccessToken")
    problems.expect_http_error(HTTPStatus.UNAUTHORIZED, projects)
    page.goto(f"{portico.origin}/projects")
    expect(page.get_by_role("cell", name="Apollo")).to_be_visible()

    # The refresh token is refused too: the user is sent to sign in again, and comes back.
    page.evaluate(SPOIL, "AccessToken")
    page.evaluate(SPOIL, "RefreshToken")
    problems.expect_http_error(HTTPStatus.UNAUTHORIZED, projects)
    token_endpoint = f"{portico.origin}/dev-issuer/{DEV_TENANT_ID}/oauth2/v2.0/token"
    problems.expect_http_error(HTTPStatus.BAD_REQUEST, token_endpoint)
    page.goto(f"{portico.origin}/projects")
    page.wait_for_url(re.compile(r"/dev-issuer/[^/]+/oauth2/v2\.0/authorize\?"))
    page.locator('button[data-persona="editor"]').click()
    expect(page.get_by_role("cell", name="Apollo")).to_be_visible()
    assert page.url == f"{portico.origin}/projects"

    assert problems.seen == []


def test_the_same_build_works_under_a_base_path_with_deep_links(
    portico_under_ui: Server, page: Page, problems: Problems
) -> None:
    sign_in(page, portico_under_ui, "reader", path="projects")
    expect(page.get_by_role("cell", name="Apollo")).to_be_visible()
    page.get_by_role("link", name="Profile").click()
    assert page.url == portico_under_ui.spa
    expect(page.get_by_test_id("permissions")).to_contain_text("projects.view_project")
    sign_out(page)
    assert page.url.startswith(portico_under_ui.spa)

    assert problems.seen == []
