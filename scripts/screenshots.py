"""Regenerate docs/img/rbac-rules.png and docs/img/rbac-simulator.png (headless Chromium).

One command, from the repository root (needs Debian's ``chromium`` and the ``playwright``
package kept outside the project's venv; ``playwright install`` is never run):

    pip install -t /tmp/pw playwright && PYTHONPATH=/tmp/pw .venv/bin/python scripts/screenshots.py

It seeds a throwaway SQLite database with a local superuser and eight realistic rules (through
the audited services), serves it with ``runserver`` on a free loopback port, signs in through
the admin login form, and captures the rule list and a simulator result. Not part of CI.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "img"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
USERNAME, PASSWORD = "admin", "screenshots-only-password"  # a throwaway database's account
FINANCE_OID = "3f6b1c2e-8d4a-4e5b-9c7d-2a1b0c9d8e7f"
BREAK_GLASS_OID = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d"

SIMULATED_CLAIMS = {
    "name": "Ada Lovelace",
    "preferred_username": "ada@contoso.example",
    "oid": "0a0a0a0a-1b1b-4c2c-8d3d-4e4e4e4e4e4e",
    "scp": "access_as_user",
    "roles": ["Projects.Read", "Projects.Write", "Reports.Export", "Projects.Sync"],
    "groups": [FINANCE_OID, "c0ffee00-1234-4abc-8def-000000000042"],
}


def seed() -> None:
    """Migrate the throwaway database and fill it (runs in this process, Django set up)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group, Permission
    from django.core.management import call_command

    from apps.rbac import services
    from apps.rbac.models import SourceKind, TokenKinds

    call_command("migrate", verbosity=0)
    get_user_model().objects.create_superuser(USERNAME, "admin@example.com", PASSWORD)

    def perms(*dotted: str) -> list[Permission]:
        return [
            Permission.objects.get(content_type__app_label=a, codename=c)
            for a, c in (name.split(".") for name in dotted)
        ]

    editors = Group.objects.create(name="Project editors")
    editors.permissions.set(
        perms("projects.view_project", "projects.add_project", "projects.change_project")
    )
    auditors = Group.objects.create(name="RBAC auditors")
    auditors.permissions.set(perms("rbac.view_mappingrule", "rbac.view_mappingaudit"))
    rules: list[tuple[dict[str, Any], list[Group], list[Permission]]] = [
        (
            {"source_value": "Projects.Read", "label": "Project readers"},
            [],
            perms("projects.view_project"),
        ),
        ({"source_value": "Projects.Write", "label": "Project editors"}, [editors], []),
        (
            {
                "source_value": "Projects.Sync",
                "label": "Nightly sync daemon",
                "token_kinds": TokenKinds.APP,
            },
            [editors],
            [],
        ),
        (
            {
                "source_value": "Portico.Support",
                "label": "Support desk",
                "grants_staff": True,
                "token_kinds": TokenKinds.BOTH,
            },
            [auditors],
            perms("rbac.simulate_mappingrule"),
        ),
        (
            {
                "source_value": "Reports.Export",
                "label": "Report exporters",
                "is_active": False,
                "notes": "Imported from the app manifest; targets to be decided.",
            },
            [],
            [],
        ),
        (
            {"source_kind": SourceKind.GROUP, "source_value": FINANCE_OID, "label": "Finance"},
            [],
            perms("projects.view_project", "projects.delete_project"),
        ),
        (
            {
                "source_kind": SourceKind.GROUP,
                "source_value": BREAK_GLASS_OID,
                "label": "Break-glass admins",
                "grants_staff": True,
                "grants_superuser": True,
            },
            [],
            [],
        ),
        (
            {
                "source_kind": SourceKind.SCOPE,
                "source_value": "access_as_user",
                "label": "Signed-in users (SPA)",
            },
            [],
            perms("projects.view_project"),
        ),
    ]
    for data, groups, permissions in rules:
        services.mapping_save(
            rule=None,
            data={"source_kind": SourceKind.APP_ROLE, **data},
            groups=groups,
            permissions=permissions,
            via="shell",
        )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(url: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (loopback only)
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit(f"runserver did not answer at {url}")


def capture(base: str) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{base}/admin/login/?next=/admin/rbac/mappingrule/")
        page.fill("#id_username", USERNAME)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_url("**/admin/rbac/mappingrule/")
        # Fold the admin's navigation sidebar: the rule list gets the whole width.
        page.evaluate("localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")
        page.reload()
        page.screenshot(path=str(OUT / "rbac-rules.png"), full_page=True)
        page.goto(f"{base}/admin/rbac/mappingrule/simulate/")
        page.fill("#id_source", json.dumps(SIMULATED_CLAIMS, indent=2))
        page.click("input[type=submit][value=Simulate]")
        page.wait_for_selector("#simulation-summary")
        page.screenshot(path=str(OUT / "rbac-simulator.png"), full_page=True)
        browser.close()


def main() -> None:
    workdir = Path(tempfile.mkdtemp(prefix="portico-screenshots-"))
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{workdir / 'db.sqlite3'}",
        "PORTICO_ENV": "dev",
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    env.pop("REDIS_URL", None)  # in-process cache: nothing shared with other runs
    os.environ.update(env)
    os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    seed()
    port = free_port()
    server = subprocess.Popen(  # noqa: S603 (our own interpreter and manage.py)
        [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(f"{base}/admin/login/")
        OUT.mkdir(parents=True, exist_ok=True)
        capture(base)
    finally:
        server.terminate()
        server.wait(timeout=10)
    print(f"wrote {OUT / 'rbac-rules.png'} and {OUT / 'rbac-simulator.png'}")


if __name__ == "__main__":
    main()
