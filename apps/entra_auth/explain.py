"""The token explainer: raw token -> each validation step, passed or failed, in plain words.

The steps are the validator's own (``TokenValidator.validate_observed`` reports each step of
the real pipeline before it runs), so the explainer can never disagree with what ``/api``
does; it only adds words: what was checked, what the token said (decoded without trusting
it), and how to fix a refusal (``explain_reasons.py``). Then the mapping simulator tells
which rules the token's roles, groups and scopes would match and what they would grant.

The token itself is never logged, stored or echoed back; only a few of its claims are shown.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.db import DatabaseError

from apps.core.conf import portico_settings
from apps.entra_auth.claims import Claims
from apps.entra_auth.exceptions import InvalidToken, KeysUnavailable
from apps.entra_auth.explain_reasons import Context, duration, explain_refusal, moment
from apps.entra_auth.runtime import token_validator
from apps.entra_auth.validation import STEPS, TokenValidator, unverified_parts
from apps.rbac.simulation import Simulation, SimulationInputError, mapping_simulate

TITLES = {
    "format": "Token format",
    "header": "Header",
    "payload": "Payload",
    "issuer": "Issuer",
    "key": "Signing key",
    "signature": "Signature",
    "claims": "Required claims",
    "lifetime": "Lifetime",
    "audience": "Audience",
    "version": "Token version",
    "tenant": "Tenant",
    "access": "Access token and permissions",
}
# Claims worth showing from an unverified payload: enough to diagnose, never the whole set.
SHOWN_CLAIMS = ("iss", "aud", "tid", "ver", "azp", "appid", "idtyp", "scp", "roles", "exp")


class Status(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    NOT_RUN = "not run"
    NOTE = "note"


@dataclass(frozen=True)
class Step:
    name: str
    title: str
    status: Status
    detail: str
    fix: str = ""


@dataclass(frozen=True)
class Explanation:
    """The whole story of one token; ``reason`` is the refusal code ("" when accepted)."""

    steps: tuple[Step, ...]
    reason: str
    shown_claims: tuple[tuple[str, str], ...]
    simulation: Simulation | None
    simulation_note: str = ""  # why there is no simulation

    @property
    def valid(self) -> bool:
        return not self.reason


def explain_token(
    token: str, *, validator: TokenValidator | None = None, clock: Callable[[], float] = time.time
) -> Explanation:
    """Explain ``token`` (a leading ``Bearer `` is ignored) against the current settings."""
    token = token.strip().removeprefix("Bearer ").strip()
    header, payload = unverified_parts(token)
    ctx = Context(token, header or {}, payload or {}, portico_settings(), clock())
    observed: list[str] = []
    claims: Claims | None = None
    try:
        claims = (validator or token_validator()).validate_observed(token, observed.append)
        reason = ""
    except InvalidToken as error:
        reason = error.reason
    except KeysUnavailable:
        reason = "keys_unavailable"
    steps = _steps(observed, reason, ctx, claims)
    return Explanation(steps, reason, _shown(ctx.header, ctx.payload), *_simulate(payload))


def _steps(observed: list[str], reason: str, ctx: Context, claims: Claims | None) -> tuple:
    done = observed[:-1] if reason else observed
    steps = [Step(name, TITLES[name], Status.PASSED, _passed(name, ctx)) for name in done]
    if reason:
        failed = observed[-1]
        what, fix = explain_refusal(reason, ctx)
        steps.append(Step(failed, TITLES[failed], Status.FAILED, what, fix))
        rest = STEPS[STEPS.index(failed) + 1 :]
        steps += [
            Step(n, TITLES[n], Status.NOT_RUN, "Not checked: an earlier step failed.") for n in rest
        ]
    if claims is not None:
        steps += _notes(claims, ctx)
    return tuple(steps)


def _passed(name: str, ctx: Context) -> str:
    """What a passed step established, with the token's values."""
    header, conf = ctx.header, ctx.conf
    exp = ctx.payload.get("exp", 0)
    texts = {
        "format": f"A compact signed JWT of {len(ctx.token)} characters.",
        "header": f"Signed with {header.get('alg')}, key id {header.get('kid')!r}; nothing "
        "Entra never sends (jku, jwk, x5u, x5c, crit, a Graph nonce).",
        "payload": "The payload is a JSON object.",
        "issuer": f"Issued by {ctx.claim('iss')}, a trusted issuer.",
        "key": f"Key {header.get('kid')!r} is one of the issuer's published signing keys.",
        "signature": "The RS256 signature verifies: the token is unaltered.",
        "claims": "Every required claim is present with the right type.",
        "lifetime": _lifetime_text(exp, ctx),
        "audience": f"The audience {ctx.claim('aud')} is this API "
        f"(ENTRA_API_CLIENT_ID={conf.entra_api_client_id}, "
        f"ENTRA_API_APP_ID_URI={conf.entra_api_app_id_uri}).",
        "version": _version_text(ctx),
        "tenant": f"Tenant {ctx.claim('tid')} is accepted.",
        "access": "An access token (not an ID token) that grants this API something.",
    }
    return texts[name]


def _lifetime_text(exp: int, ctx: Context) -> str:
    if exp >= ctx.now:
        return f"Valid until {moment(exp)}: expires in {duration(exp - ctx.now)}."
    return (
        f"Expired {duration(ctx.now - exp)} ago, at {moment(exp)}, but within the allowed "
        f"clock skew (ENTRA_CLOCK_SKEW_SECONDS={ctx.leeway}): still accepted, not for long."
    )


def _version_text(ctx: Context) -> str:
    accepted = ",".join(ctx.conf.entra_accepted_token_versions)
    if ctx.payload.get("ver") == "1.0":
        return (
            f"A v1.0 token, accepted (ENTRA_ACCEPTED_TOKEN_VERSIONS={accepted}). Entra issues "
            "v1.0 access tokens while the API registration's requestedAccessTokenVersion is "
            "null or 1; set it to 2 for v2.0 tokens."
        )
    return (
        f"A v2.0 token (ENTRA_ACCEPTED_TOKEN_VERSIONS={accepted}): the API registration "
        "asks for them with requestedAccessTokenVersion 2."
    )


def _notes(claims: Claims, ctx: Context) -> list[Step]:
    who = f"application {claims.client_id}" if claims.is_app else "a signed-in user"
    notes = [
        Step(
            "kind",
            "Who it speaks for",
            Status.NOTE,
            f"{claims.kind.value.capitalize()} token for {who}: scopes "
            f"{sorted(claims.scopes) or 'none'}, app roles {sorted(claims.roles) or 'none'}, "
            f"{len(claims.groups)} group(s).",
        )
    ]
    if claims.groups_overage:
        graph = ctx.conf.rbac_graph_groups
        notes.append(
            Step(
                "overage",
                "Groups overage",
                Status.NOTE,
                "The user is in more groups than fit in a token, so the token lists none and "
                "points to Microsoft Graph instead. "
                + (
                    "PORTICO_RBAC_GRAPH_GROUPS is on: Portico reads them from Graph."
                    if graph
                    else "PORTICO_RBAC_GRAPH_GROUPS is off: rules on groups do not match."
                ),
                ""
                if graph
                else "Map app roles instead of groups (recommended), assign fewer groups, "
                "or turn on PORTICO_RBAC_GRAPH_GROUPS (docs/rbac-graph.md).",
            )
        )
    return notes


def _shown(header: Mapping[str, Any], payload: Mapping[str, Any]) -> tuple:
    rows = [(f"header.{name}", str(header[name])) for name in ("alg", "kid") if name in header]
    rows += [(name, str(payload[name])) for name in SHOWN_CLAIMS if name in payload]
    return tuple((n, f"{v} ({moment(payload['exp'])})" if n == "exp" else v) for n, v in rows)


def _simulate(payload: Mapping[str, Any] | None) -> tuple[Simulation | None, str]:
    """What the active mapping rules would grant the token's claims (valid or not)."""
    if payload is None:
        return None, "The payload could not be decoded, so there are no claims to map."
    try:
        return mapping_simulate(document=payload), ""
    except SimulationInputError as exc:
        return None, f"The claims cannot be mapped: {exc}"
    except DatabaseError:
        return None, "The mapping rules could not be read from the database."


def render_text(explanation: Explanation) -> str:
    """The explanation as plain text, for the terminal (``manage.py explain_token``)."""
    marks = {
        Status.PASSED: "PASS",
        Status.FAILED: "FAIL",
        Status.NOT_RUN: " -- ",
        Status.NOTE: "NOTE",
    }
    verdict = "ACCEPTED" if explanation.valid else f"REFUSED ({explanation.reason})"
    lines = [f"Token {verdict}", "", "Claims (decoded without trusting them):"]
    lines += [f"  {name}: {value}" for name, value in explanation.shown_claims] or ["  (none)"]
    lines.append("")
    for step in explanation.steps:
        if step.status is not Status.NOT_RUN:
            lines.append(f"[{marks[step.status]}] {step.title}: {step.detail}")
        if step.fix:
            lines.append(f"       Fix: {step.fix}")
    skipped = [step.title for step in explanation.steps if step.status is Status.NOT_RUN]
    if skipped:
        lines.append(f"[{marks[Status.NOT_RUN]}] Not checked after that: {', '.join(skipped)}.")
    lines += ["", *_mapping_lines(explanation)]
    return "\n".join(lines) + "\n"


def _mapping_lines(explanation: Explanation) -> list[str]:
    simulation = explanation.simulation
    if simulation is None:
        return [f"Mapping: {explanation.simulation_note}"]
    grant = simulation.grant
    heading = "Mapping" if explanation.valid else "Mapping (if the token were valid)"
    lines = [f"{heading}: {len(grant.rules)} rule(s) match."]
    lines += [f"  rule #{r.id} {r.source_kind} {r.source_value!r} {r.label}" for r in grant.rules]
    lines.append(f"  permissions: {', '.join(sorted(grant.permissions)) or 'none'}")
    lines.append(f"  is_staff: {grant.is_staff}, is_superuser: {grant.is_superuser}")
    if grant.admin_role:
        lines.append("  PORTICO_RBAC_ADMIN_ROLE matched: RBAC administration granted.")
    lines += [f"  no active rule for {kind} {value!r}" for kind, value in simulation.unmatched]
    return lines
