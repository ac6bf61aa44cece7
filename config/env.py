"""The only module that reads ``os.environ``.

It turns environment variables into typed values and never raises: a value that cannot be
parsed is recorded as a problem (named by its variable) and replaced by the default, so that
``manage.py check`` and ``config/wsgi.py`` can report every problem at once instead of the
process dying on the first one with a traceback. Semantic validation (is the tenant a GUID?
is the authority https?) lives in the system checks of ``apps.core``.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

ENVIRONMENTS = ("dev", "uat", "prod")

# Identifiers of the built-in dev issuer's pretend tenant and app registrations. They are
# GUID-shaped (so the same validation applies) and obviously not real.
DEV_TENANT_ID = "de7e1000-0000-4000-8000-000000000001"
DEV_API_CLIENT_ID = "de7e1000-0000-4000-8000-0000000a0001"
DEV_SPA_CLIENT_ID = "de7e1000-0000-4000-8000-0000000a0002"
# A confidential ("web") client of the dev issuer, for server-side sign-in with msal; its
# client secret is generated into var/ (PORTICO["DEV_WEB_CLIENT_SECRET"]), never hard-coded.
DEV_WEB_CLIENT_ID = "de7e1000-0000-4000-8000-0000000a0004"
# HTTPS because MSAL.js refuses an http authority; `make run` serves this with a self-signed
# certificate generated into var/dev-tls/ (docs/decisions.md, "Local HTTPS").
DEV_AUTHORITY_HOST = "https://localhost:8443/dev-issuer"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class EnvProblem:
    """A variable whose value could not be parsed; reported by the check ``core.E001``."""

    variable: str
    message: str


@dataclass
class EnvReader:
    """Typed getters over an environment mapping that collect problems instead of raising."""

    environ: Mapping[str, str]
    problems: list[EnvProblem] = field(default_factory=list)

    def raw(self, name: str) -> str | None:
        value = self.environ.get(name)
        if value is None or value.strip() == "":
            return None
        return value.strip()

    def text(self, name: str, default: str = "") -> str:
        value = self.raw(name)
        return default if value is None else value

    def flag(self, name: str, default: bool) -> bool:
        value = self.raw(name)
        if value is None:
            return default
        if value.lower() in _TRUE:
            return True
        if value.lower() in _FALSE:
            return False
        self.problems.append(
            EnvProblem(name, f"must be one of 1/0, true/false, on/off; got {value!r}")
        )
        return default

    def integer(self, name: str, default: int) -> int:
        value = self.raw(name)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError:
            self.problems.append(EnvProblem(name, f"must be a whole number; got {value!r}"))
            return default

    def items(self, name: str, default: tuple[str, ...] = ()) -> tuple[str, ...]:
        """A comma- or space-separated list, without empty items."""
        value = self.raw(name)
        if value is None:
            return default
        return tuple(item for item in value.replace(",", " ").split() if item)

    def choice(
        self, name: str, default: str, choices: tuple[str, ...], *, invalid: str | None = None
    ) -> str:
        """One of ``choices``; a bad value is a problem and gives ``invalid`` (or the default)."""
        value = self.text(name, default)
        if value not in choices:
            self.problems.append(
                EnvProblem(name, f"must be one of {', '.join(choices)}; got {value!r}")
            )
            return default if invalid is None else invalid
        return value


def reader(environ: Mapping[str, str] | None = None) -> EnvReader:
    """An :class:`EnvReader` over ``environ`` (the process environment by default)."""
    return EnvReader(os.environ if environ is None else environ)


def dev_secret_key(path: Path) -> str:
    """A dev-only secret generated once into ``var/`` (ignored by git) and shared by workers."""
    if not path.exists():
        create_once(path, ("dev-only-" + secrets.token_urlsafe(40)).encode())
    return path.read_text().strip()


def create_once(path: Path, content: bytes) -> None:
    """Write ``content`` to ``path``, readable by its owner only, unless ``path`` exists.

    The file appears whole or not at all (a private temporary file, then an atomic link), so
    workers starting together never read a half-written file, and all of them end up with
    whichever value was linked first instead of each keeping its own.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(content)
        os.link(temporary, path)
    except FileExistsError:
        pass  # another process created it first: theirs is the one
    finally:
        os.unlink(temporary)
