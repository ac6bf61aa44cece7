"""The validated identity of a request: what ``request.auth`` holds (never the raw token)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class TokenKind(StrEnum):
    """Who the token speaks for: a signed-in user (delegated) or an application (app-only)."""

    DELEGATED = "delegated"
    APP = "app"


@dataclass(frozen=True, slots=True)
class Claims:
    """The facts Portico uses from a validated Entra access token."""

    tid: str
    oid: str
    sub: str
    kind: TokenKind
    client_id: str  # azp (v2) or appid (v1): the application that asked for the token
    version: str  # "1.0" or "2.0"
    issuer: str
    audience: str
    expires_at: int
    issued_at: int
    scopes: frozenset[str] = frozenset()
    roles: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    groups_overage: bool = False
    wids: frozenset[str] = frozenset()
    name: str = ""
    preferred_username: str = ""
    email: str = ""
    uti: str = ""

    @property
    def is_app(self) -> bool:
        return self.kind is TokenKind.APP
