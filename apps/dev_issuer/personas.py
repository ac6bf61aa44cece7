"""Pretend people and a daemon for local work: stable object ids, obvious names."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

_NAMESPACE = uuid.UUID("de7e1000-0000-4000-8000-0000000000ff")
DEV_DAEMON_CLIENT_ID = "de7e1000-0000-4000-8000-0000000a0003"


@dataclass(frozen=True)
class Persona:
    key: str
    name: str
    roles: tuple[str, ...]

    @property
    def oid(self) -> str:
        return str(uuid.uuid5(_NAMESPACE, f"user:{self.key}"))

    @property
    def username(self) -> str:
        return f"{self.key}@dev.portico.invalid"


PERSONAS = {
    p.key: p
    for p in (
        Persona("admin", "Ada Admin", ("Portico.Admin",)),
        Persona("editor", "Eddie Editor", ("Portico.Editor",)),
        Persona("reader", "Rita Reader", ("Portico.Reader",)),
        Persona("noroles", "Nora Noroles", ()),
    )
}


def persona(key: str) -> Persona:
    """A known persona, or an ad-hoc one (no roles) with a stable oid derived from ``key``."""
    return PERSONAS.get(key) or Persona(key, key.title(), ())


def app_object_id(name: str) -> str:
    """A stable service-principal object id for an app-only caller named ``name``."""
    return str(uuid.uuid5(_NAMESPACE, f"app:{name}"))
