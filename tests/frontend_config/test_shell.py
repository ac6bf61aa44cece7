"""The SPA shell: index.html with <base> and the runtime config for every client-side route,
hashed assets through WhiteNoise, 404 for what is not there, and a configurable base path."""

from __future__ import annotations

import json
import re
from http import HTTPStatus
from pathlib import Path

import pytest

from tests.frontend_config.conftest import ASSET_BODY, ASSET_NAME

CONFIG_ELEMENT = re.compile(
    r'<script id="portico-config" type="application/json">(.*?)</script>', re.DOTALL
)


def shell_config(response) -> dict:
    (inlined,) = CONFIG_ELEMENT.findall(response.content.decode())
    return json.loads(inlined)


def assert_is_shell(response, base: str = "/") -> None:
    assert response.status_code == HTTPStatus.OK
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert response["Cache-Control"] == "no-cache"
    page = response.content.decode()
    assert '<div id="root"></div>' in page
    assert f'<head><base href="{base}">' in page.replace("\n", "").replace("  ", "")


# --- history fallback -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/", "/index.html", "/projects", "/projects/42/edit", "/deep/link/", "/me?tab=roles"]
)
def test_client_side_routes_get_the_shell(client, dist, path):
    assert_is_shell(client.get(path))


def test_the_shell_inlines_the_same_config_as_config_json(client, dist):
    response = client.get("/projects/7")
    assert shell_config(response) == client.get("/config.json").json()


def test_the_inlined_config_cannot_break_out_of_its_element(client, dist, configure):
    configure(BUILD_VERSION="</script><script>alert(1)</script>")
    response = client.get("/")
    page = response.content.decode()
    assert "<script>alert(1)" not in page
    assert shell_config(response)["build"]["version"] == "</script><script>alert(1)</script>"


def test_the_builds_scripts_carry_the_responses_nonce(client, dist):
    response = client.get("/")
    nonce = re.search(r"'nonce-([^']+)'", response["Content-Security-Policy"]).group(1)
    page = response.content.decode()
    assert f'<script nonce="{nonce}" type="module" crossorigin src="./assets/{ASSET_NAME}">' in (
        page
    )


def test_the_shell_answers_head_but_not_post(client, dist):
    assert client.head("/projects").status_code == HTTPStatus.OK
    assert client.post("/projects").status_code == HTTPStatus.METHOD_NOT_ALLOWED


@pytest.mark.parametrize(
    "path",
    [
        "/robots.txt",  # a file-looking path that is not in the build
        "/projects/report.pdf",
        "/api/nope",  # Django's own prefixes are never the shell
        "/api/",
        "/static/nope.css",
        "/dev-issuer/nope",
        "/signin/nope",
    ],
)
def test_files_and_django_paths_are_not_the_shell(client, dist, path):
    response = client.get(path)
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert b'<div id="root">' not in response.content


# --- assets ---------------------------------------------------------------------------------


def test_hashed_assets_are_served_immutable(client, dist):
    response = client.get(f"/assets/{ASSET_NAME}")
    assert response.status_code == HTTPStatus.OK
    assert b"".join(response.streaming_content) == ASSET_BODY
    assert response["Cache-Control"] == "max-age=315360000, public, immutable"
    assert "javascript" in response["Content-Type"]
    assert response.has_header("ETag") or response.has_header("Last-Modified")


def test_files_at_the_build_root_are_served_but_not_immutable(client, dist):
    response = client.get("/favicon.svg")
    assert response.status_code == HTTPStatus.OK
    assert "immutable" not in response["Cache-Control"]


@pytest.mark.parametrize("path", ["/assets/nope.js", "/assets/", "/assets/chunks/x.css"])
def test_a_missing_asset_is_404_never_the_shell(client, dist, path):
    response = client.get(path)
    assert response.status_code == HTTPStatus.NOT_FOUND
    assert b'<div id="root">' not in response.content


# --- base path ------------------------------------------------------------------------------


@pytest.mark.parametrize("setting", ["/ui/", "ui", "/ui"])
def test_the_spa_can_be_mounted_under_a_base_path_without_a_rebuild(
    client, dist, configure, setting
):
    configure(UI_BASE_PATH=setting)
    for path in ("/ui/", "/ui/projects/3", "/ui/index.html"):
        assert_is_shell(client.get(path), base="/ui/")
    document = shell_config(client.get("/ui/"))
    assert document["basePath"] == "/ui/"
    assert document["auth"]["redirectUri"] == "http://testserver/ui/"

    asset = client.get(f"/ui/assets/{ASSET_NAME}")
    assert asset.status_code == HTTPStatus.OK
    assert "immutable" in asset["Cache-Control"]
    assert client.get(f"/assets/{ASSET_NAME}").status_code == HTTPStatus.NOT_FOUND
    assert client.get("/ui/assets/nope.js").status_code == HTTPStatus.NOT_FOUND


@pytest.mark.parametrize("path", ["/", "/ui"])
def test_the_root_leads_to_the_base_path(client, dist, configure, path):
    configure(UI_BASE_PATH="/ui/")
    response = client.get(path)
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"] == "/ui/"


def test_paths_outside_the_base_path_are_404(client, dist, configure):
    configure(UI_BASE_PATH="/ui/")
    assert client.get("/projects").status_code == HTTPStatus.NOT_FOUND
    assert client.get("/config.json").status_code == HTTPStatus.OK  # always at the root


# --- no build -------------------------------------------------------------------------------


def test_without_a_build_the_page_says_how_to_make_one(client, configure):
    response = client.get("/projects")
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    page = response.content.decode()
    assert "npm ci &amp;&amp; npm run build" in page
    assert "make run" in page
    assert response["Cache-Control"] == "no-cache"
    assert "<script" not in page
    assert "<style" not in page


def test_a_rebuilt_index_is_picked_up_without_a_restart(client, dist):
    assert "v2-marker" not in client.get("/").content.decode()
    index = dist / "index.html"
    index.write_text(index.read_text().replace("<title>Portico", "<title>v2-marker"))
    assert "v2-marker" in client.get("/").content.decode()


def test_the_index_is_read_from_disk_once_not_per_request(client, dist, monkeypatch):
    reads = []
    read_text = Path.read_text

    def counted(path: Path, *args, **kwargs) -> str:
        if path.name == "index.html":
            reads.append(path)
        return read_text(path, *args, **kwargs)

    monkeypatch.setattr(Path, "read_text", counted)
    for route in ("/", "/projects", "/me"):
        assert_is_shell(client.get(route))
    assert reads == [dist / "index.html"]


@pytest.mark.parametrize("debug", [False, True], ids=["scanned", "autorefresh"])
@pytest.mark.parametrize(
    "path", ["/assets/../index.html", "/assets/%2e%2e/%2e%2e/config/settings.py", "/../manage.py"]
)
def test_paths_never_escape_the_build(client, dist, settings, debug, path):
    settings.DEBUG = debug
    response = client.get(path)
    assert response.status_code in {HTTPStatus.NOT_FOUND, HTTPStatus.OK}
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert b"DJANGO_SECRET_KEY" not in body
    assert b"execute_from_command_line" not in body


def test_in_debug_a_new_build_is_served_without_a_restart(client, dist, settings):
    settings.DEBUG = True
    assert client.get("/assets/late-Aa11Bb22.js").status_code == HTTPStatus.NOT_FOUND
    (dist / "assets" / "late-Aa11Bb22.js").write_text("export {};\n")
    assert client.get("/assets/late-Aa11Bb22.js").status_code == HTTPStatus.OK
