"""A real Portico over HTTPS and a real Chromium, for the sample SPA's end-to-end test.

gunicorn runs the production command on 127.0.0.1 with a self-signed certificate (MSAL.js
refuses http authorities), a migrated and seeded SQLite database in a temporary directory
and the dev issuer at ``https://localhost:<port>/dev-issuer``. The browser is Debian's
``/usr/bin/chromium`` driven by Playwright; nothing is downloaded (``playwright install`` is
never run). Every console error, uncaught exception and CSP violation on any page is kept,
for the test to assert there were none.
"""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Page

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SPA_INDEX = REPO / "frontend" / "dist" / "index.html"
# The flags this machine's closed network needs (no background calls to Google's hosts).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Reports a Content-Security-Policy violation on the console, where the collector sees it.
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.violatedDirective} blocked ${event.blockedURI}`);
});
"""


def why_skip() -> str | None:
    """Why the SPA's browser tests cannot run here, or None (CI has both)."""
    if not CHROMIUM.exists():
        return f"needs Debian's chromium at {CHROMIUM} (.ci/run installs it)"
    if not SPA_INDEX.exists():
        return "needs the SPA build in frontend/dist/ (`make frontend`; .ci/run builds it)"
    return None


@dataclass(frozen=True)
class Server:
    origin: str
    log: Path
    base_path: str = "/"

    @property
    def spa(self) -> str:
        """The SPA's own URL: origin and base path."""
        return f"{self.origin}{self.base_path}"


def _wait_until_healthy(origin: str, process: subprocess.Popen[bytes], log: Path) -> None:
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE  # our own throwaway certificate
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"gunicorn exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{origin}/api/health", context=insecure, timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"gunicorn did not become healthy in 60 s:\n{log.read_text()}")


@contextmanager
def _serve(workdir: Path, *, base_path: str) -> Iterator[Server]:
    """gunicorn over HTTPS on a free loopback port, the SPA mounted at ``base_path``."""
    from apps.dev_issuer.tls import ensure_certificate

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    cert, key = ensure_certificate(workdir / "tls")
    origin = f"https://localhost:{port}"
    env = {
        **os.environ,
        "PORTICO_ENV": "dev",
        "PORTICO_BIND": f"127.0.0.1:{port}",
        "PORTICO_UI_BASE_PATH": base_path,
        # One worker: with the in-process cache, codes must be redeemed where they were made.
        "WEB_CONCURRENCY": "1",
        "DATABASE_URL": f"sqlite:///{workdir / 'portico.sqlite3'}",
        "ENTRA_AUTHORITY_HOST": f"{origin}/dev-issuer",
        "GUNICORN_ACCESSLOG": str(workdir / "access.log"),
    }
    for inherited in ("REDIS_URL", "DJANGO_SETTINGS_MODULE", "ENTRA_TENANT_ID"):
        env.pop(inherited, None)
    for command in (["migrate", "--noinput"], ["seed_demo"]):
        subprocess.run(
            [sys.executable, "manage.py", *command],
            cwd=REPO,
            env=env,
            check=True,
            capture_output=True,
            timeout=180,
        )
    log = workdir / "gunicorn.out"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py"),
                *("--certfile", str(cert), "--keyfile", str(key), "config.wsgi:application"),
            ],
            cwd=REPO,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_until_healthy(origin, process, log)
        yield Server(origin, log, base_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def portico(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Portico with the SPA at ``/``."""
    with _serve(tmp_path_factory.mktemp("browser"), base_path="/") as server:
        yield server


@pytest.fixture(scope="module")
def portico_under_ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Portico with the SPA at ``/ui/`` (``PORTICO_UI_BASE_PATH``), the same build."""
    with _serve(tmp_path_factory.mktemp("browser-ui"), base_path="/ui/") as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Problems:
    """Console errors, uncaught exceptions and CSP violations seen on any page.

    Chromium logs every HTTP error answer as a console error ("Failed to load resource: ...
    403"); the one a test provokes on purpose is declared with :meth:`expect_http_error`
    and forgiven once, any other counts.
    """

    seen: list[str] = field(default_factory=list)
    expected: list[tuple[str, str]] = field(default_factory=list)

    def expect_http_error(self, status: HTTPStatus, url: str) -> None:
        """Forgive one logged ``status`` answer from ``url`` (query string ignored)."""
        self.expected.append((f"status of {status.value} ", url))

    def console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        url = message.location.get("url", "")
        network = message.text.startswith("Failed to load resource")
        for status, expected_url in self.expected:
            if network and status in message.text and url.split("?")[0] == expected_url:
                self.expected.remove((status, expected_url))
                return
        self.seen.append(f"console: {message.text} ({url})")

    def page_error(self, error: Exception) -> None:
        self.seen.append(f"uncaught: {error}")


@pytest.fixture
def problems() -> Problems:
    return Problems()


@pytest.fixture
def page(browser: Browser, problems: Problems) -> Iterator[Page]:
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1200, "height": 800})
    context.add_init_script(CSP_LISTENER)
    page = context.new_page()
    page.on("console", problems.console)
    page.on("pageerror", problems.page_error)
    try:
        yield page
    finally:
        context.close()


@pytest.fixture
def screenshot(page: Page) -> Callable[[str], None]:
    """``screenshot("reader")`` writes docs/img/spa-reader.png when PORTICO_SCREENSHOTS=1."""

    def take(name: str) -> None:
        if os.environ.get("PORTICO_SCREENSHOTS") == "1":
            page.screenshot(path=REPO / "docs" / "img" / f"spa-{name}.png", full_page=True)

    return take
