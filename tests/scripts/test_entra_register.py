"""``scripts/entra/register.sh``: shellcheck-clean, a dry run that runs nothing, idempotent.

``az`` is replaced by a fake on ``PATH``: in dry-run tests it fails the test if it is ever
called; in the idempotency test it answers as a tenant where everything already exists and
records every call and every JSON body the script sends.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "entra" / "register.sh"
ROLES = json.loads((ROOT / "scripts" / "entra" / "app-roles.json").read_text())
HOSTS = {
    "dev": "app-dev.internal.example.com",
    "uat": "app-uat.internal.example.com",
    "prod": "app.internal.example.com",
}
ALL_ENVIRONMENTS = [arg for env, host in HOSTS.items() for arg in ("--env", f"{env}={host}")]

FAILING_AZ = """#!/bin/sh
echo "az was called during a dry run: $*" >&2
touch "$(dirname "$0")/called"
exit 97
"""

# A tenant where the registrations exist; role Portico.Reader has an id of Entra's own.
RECORDING_AZ = """#!/usr/bin/env python3
import json, sys, pathlib
args = sys.argv[1:]
here = pathlib.Path(__file__).parent
with open(here / "calls.jsonl", "a") as log:
    body = next((a[1:] for a in args if a.startswith("@")), None)
    log.write(json.dumps({"args": args, "body": body and json.loads(open(body).read())}) + "\\n")
line = " ".join(args)
if line.startswith("account show"):
    print("tenant-guid")
elif line.startswith("ad app list"):
    print("existing-" + line.split("'")[1].split(" (")[0].split()[-1].lower() + "-id")
elif line.startswith("ad app show") and "oauth2PermissionScopes" in line:
    print('"existing-scope-id"')
elif line.startswith("ad app show") and "appRoles" in line:
    print(json.dumps([{"id": "entra-reader-id", "value": "Portico.Reader"}]))
elif line.startswith("ad sp list"):
    print("existing-sp-object-id")
"""


def fake_az(tmp_path: Path, source: str) -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    az = bin_dir / "az"
    az.write_text(source)
    az.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


def register(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("jq") is None:
        pytest.skip("jq is not installed (.ci/run installs the Debian package)")
    return subprocess.run(
        ["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60
    )


@pytest.fixture
def dry_run(tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = fake_az(tmp_path, FAILING_AZ)
    result = register(env, *ALL_ENVIRONMENTS, "--dev-tools", "--admin-consent", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "bin" / "called").exists()
    return result


def test_the_script_passes_shellcheck() -> None:
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (.ci/run installs the Debian package)")
    result = subprocess.run(
        ["shellcheck", "--severity=style", str(SCRIPT)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout


def test_dry_run_prints_the_commands_that_create_each_registration(dry_run: Any) -> None:
    commands = [line for line in dry_run.stderr.splitlines() if line.startswith("+ az ")]
    for env in HOSTS:
        for kind in ("API", "SPA", "developer\\ tools"):
            display = f"Portico\\ {kind}\\ \\({env}\\)"
            assert f"+ az ad app create --display-name {display} " in "\n".join(commands)
        assert f"+ az ad app permission admin-consent --id \\<spa-client-id:{env}\\>" in commands
        assert f"+ az ad sp create --id \\<api-client-id:{env}\\>" in commands
    patches = [c for c in commands if c.startswith("+ az rest --method PATCH")]
    assert len(patches) == 3 * len(HOSTS)


def test_dry_run_shows_the_api_registration_body(dry_run: Any) -> None:
    out = dry_run.stderr
    assert '"requestedAccessTokenVersion": 2' in out
    assert '"value": "access_as_user"' in out
    assert '"api://<api-client-id:prod>"' in out
    for role in ROLES:
        assert f'"value": "{role["value"]}"' in out
    assert '"appId": "<spa-client-id:uat>"' in out  # pre-authorized: no consent prompt


def test_dry_run_registers_each_environments_redirect_uris(dry_run: Any) -> None:
    for host in HOSTS.values():
        assert f'"https://{host}/"' in dry_run.stderr
        assert f'"https://{host}/api/docs/oauth2-redirect.html"' in dry_run.stderr
    assert '"https://oauth.pstmn.io/v1/callback"' in dry_run.stderr


def test_dry_run_prints_the_environment_variables_of_each_environment(dry_run: Any) -> None:
    for env, host in HOSTS.items():
        assert f"# --- {env} (https://{host}) ---" in dry_run.stdout
        assert f"ENTRA_SPA_SCOPES=api://<api-client-id:{env}>/access_as_user" in dry_run.stdout
        assert f"ENTRA_DEVTOOLS_CLIENT_ID=<devtools-client-id:{env}>" in dry_run.stdout
    assert dry_run.stdout.count("ENTRA_TENANT_ID=<tenant-id>") == len(HOSTS)
    assert "+ az" not in dry_run.stdout  # stdout is only the variables: redirectable


def test_a_second_run_updates_in_place_and_keeps_entras_ids(tmp_path: Path) -> None:
    env = fake_az(tmp_path, RECORDING_AZ)
    result = register(env, "--env", f"prod={HOSTS['prod']}")
    assert result.returncode == 0, result.stderr
    calls = [json.loads(line) for line in (tmp_path / "bin" / "calls.jsonl").open()]
    assert not [c for c in calls if "create" in c["args"]]
    api_body = next(c["body"] for c in calls if c["body"] and "appRoles" in c["body"])
    ids = {role["value"]: role["id"] for role in api_body["appRoles"]}
    assert ids["Portico.Reader"] == "entra-reader-id"  # kept: assignments refer to it
    assert ids["Portico.Admin"] == next(r["id"] for r in ROLES if r["value"] == "Portico.Admin")
    assert api_body["api"]["oauth2PermissionScopes"][0]["id"] == "existing-scope-id"
    assert "ENTRA_API_CLIENT_ID=existing-api-id" in result.stdout
    assert "ENTRA_SPA_CLIENT_ID=existing-spa-id" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--env", "staging=app.example.com"],
        ["--env", "dev=app.example.com", "--base-path", "ui"],
        ["--env", "dev=app.example.com", "--roles", "/nonexistent.json"],
        ["--bogus"],
    ],
)
def test_bad_arguments_are_refused_before_any_az_call(tmp_path: Path, args: list[str]) -> None:
    result = register(fake_az(tmp_path, FAILING_AZ), *args, "--dry-run")
    assert result.returncode == 2
    assert result.stderr.startswith("register.sh: ")
    assert not (tmp_path / "bin" / "called").exists()
