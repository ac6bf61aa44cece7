"""Loading ``deploy/ecs/*.json`` and finding out which variables Portico reads.

Why the names are derived rather than listed: a second hand-kept list of variables would
drift from ``config/settings.py``. Executing the settings module and gunicorn's config with
an environment that records every look-up gives the set Portico really reads, for the very
values a task definition sets (a read that only happens in some configurations is seen when
that configuration is the task's).
"""

from __future__ import annotations

import json
import os
import re
import runpy
from pathlib import Path
from typing import Any
from unittest import mock

ROOT = Path(__file__).resolve().parents[2]
ECS_DIR = ROOT / "deploy" / "ecs"
ENVIRONMENTS = ("dev", "uat", "prod")
DUMMY_SECRET = "task-definition-test-only-" + "x" * 40


class RecordingEnviron(dict[str, str]):
    """An ``os.environ`` stand-in that remembers every name looked up."""

    def __init__(self, values: dict[str, str]) -> None:
        super().__init__(values)
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.read.add(key)
        return super().__contains__(key)


def load(name: str) -> dict[str, Any]:
    return json.loads((ECS_DIR / name).read_text())


def container(definition: dict[str, Any]) -> dict[str, Any]:
    """The Portico container: each task definition has exactly one."""
    (only,) = definition["containerDefinitions"]
    return only


def environment(definition: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item["value"] for item in container(definition)["environment"]}


def secrets(definition: dict[str, Any]) -> dict[str, str]:
    return {item["name"]: item["valueFrom"] for item in container(definition).get("secrets", [])}


def process_environment(definition: dict[str, Any]) -> dict[str, str]:
    """What the container's process sees: the environment, each secret a dummy value."""
    values = environment(definition)
    values.update(dict.fromkeys(secrets(definition), DUMMY_SECRET))
    # Secrets that Portico parses need a parsable dummy.
    if "DATABASE_URL" in values:
        values["DATABASE_URL"] = "postgres://portico:dummy@db.invalid:5432/portico"
    if "REDIS_URL" in values:
        values["REDIS_URL"] = "rediss://:dummy@cache.invalid:6379/0"
    return values


def names_read(values: dict[str, str]) -> tuple[set[str], tuple[Any, ...]]:
    """(every variable name Portico and its gunicorn config read, the settings' parse
    problems) when the process environment is ``values``."""
    recorder = RecordingEnviron(values)
    with mock.patch.object(os, "environ", recorder):
        settings = runpy.run_path(str(ROOT / "config" / "settings.py"))
        runpy.run_path(str(ROOT / "config" / "gunicorn.conf.py"))
    return recorder.read, settings["PORTICO_ENV_PROBLEMS"]


def readme_variables() -> set[str]:
    """The names in the first column of the README's configuration table."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    names: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            names.update(re.findall(r"`([A-Z][A-Z0-9_]+)`", line.split("|")[1]))
    return names
