"""Swagger UI signed in through the dev issuer, in Debian's Chromium (issue 5, "Must show").

``/api/docs/`` → Authorize → *entra* (authorization code + PKCE, scope pre-ticked) → the dev
issuer's persona picker in a pop-up → back through ``/api/docs/oauth2-redirect.html`` →
*Try it out* on ``GET /api/me`` answers 200 with the admin persona. Swagger UI runs under
the strict CSP (no inline script or style): any console error, uncaught exception or CSP
violation, on the page or in the pop-up, fails the test.

``PORTICO_SCREENSHOTS=1`` writes ``docs/img/swagger-me.png`` (the README shows it).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
from http import HTTPStatus
from typing import TYPE_CHECKING

import pytest

from apps.dev_issuer.personas import PERSONAS
from tests.browser.conftest import CHROMIUM, REPO, Problems, Server

if TYPE_CHECKING:
    from playwright.sync_api import Page


def _why_skip() -> str | None:
    if not CHROMIUM.exists():
        return f"needs Debian's chromium at {CHROMIUM} (.ci/run installs it)"
    if importlib.util.find_spec("playwright") is None:
        return "needs the playwright package (requirements-dev.txt)"
    return None


pytestmark = [
    pytest.mark.servers,
    pytest.mark.skipif(_why_skip() is not None, reason=_why_skip() or ""),
]


def authorize_in_popup(page: Page, persona: str) -> None:
    """Authorize → entra → the persona picker in the pop-up; the pop-up closes itself."""
    from playwright.sync_api import expect

    page.locator(".auth-wrapper button.authorize").click()
    dialog = page.locator(".dialog-ux")
    entra = dialog.locator(".auth-container").filter(has_text="authorizationCode")
    expect(entra.locator("input[type=checkbox]:checked")).to_have_count(1)  # scope pre-ticked
    with page.expect_popup() as opened:
        entra.locator("button.authorize").click()
    popup = opened.value
    popup.wait_for_url(re.compile(r"/dev-issuer/[^/]+/oauth2/v2\.0/authorize\?"))
    assert "code_challenge_method=S256" in popup.url
    popup.locator(f'button[data-persona="{persona}"]').click()
    popup.wait_for_event("close")
    expect(entra.locator("button", has_text="Logout")).to_be_visible()
    dialog.locator("button.btn-done").first.click()


def test_swagger_ui_signs_in_through_the_dev_issuer_and_tries_out_me(
    portico: Server, page: Page, problems: Problems
) -> None:
    from playwright.sync_api import expect

    page.context.on("page", lambda popup: popup.on("console", problems.console))
    # The persona picker has no icon link, so Chromium asks for /favicon.ico in the pop-up.
    problems.expect_http_error(HTTPStatus.NOT_FOUND, f"{portico.origin}/favicon.ico")
    page.goto(f"{portico.origin}/api/docs/")
    expect(page.locator(".swagger-ui .information-container")).to_contain_text("Portico API")

    authorize_in_popup(page, "admin")

    operation = page.locator("#operations-me-me_retrieve")
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    response = operation.locator(".live-responses-table .response").first
    expect(response.locator(".response-col_status")).to_contain_text("200")
    body = json.loads(response.locator(".microlight").first.inner_text())
    assert body["name"] == PERSONAS["admin"].name
    assert body["token_type"] == "delegated"
    assert "Portico.Admin" in body["roles"]
    expect(operation.locator(".request-url")).to_contain_text(f"{portico.origin}/api/me")

    if os.environ.get("PORTICO_SCREENSHOTS") == "1":
        # From the page's title to the response body: sign-in state, request and answer.
        top = page.locator(".swagger-ui .information-container").bounding_box()
        bottom = response.bounding_box()
        assert top is not None
        assert bottom is not None
        scrolled = page.evaluate("window.scrollY")  # boxes are viewport-relative
        clip = {
            "x": 0,
            "y": top["y"] + scrolled,
            "width": top["width"],
            "height": bottom["y"] + bottom["height"] - top["y"],
        }
        page.screenshot(path=REPO / "docs" / "img" / "swagger-me.png", clip=clip, full_page=True)
    assert problems.seen == []
