"""The promotion document (``portico.rbac/1``): parsed, validated and written here.

Validation reads the whole document before anything is written and reports every problem
with its place (``rules[3].source_kind: ...``), so one run shows all that needs fixing. The
model's own ``full_clean`` has the last word on values, so the rules an import accepts are
the rules the admin would accept.
"""

from __future__ import annotations

import json
from collections.abc import Container
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import Group, Permission
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from apps.rbac import services
from apps.rbac.models import MappingRule, SourceKind, TokenKinds

FORMAT = "portico.rbac/1"
RULE_KEYS = (*services.RULE_FIELDS, "groups", "permissions")  # = rule_document()'s keys
_CHOICES = {"source_kind": tuple(SourceKind.values), "token_kinds": tuple(TokenKinds.values)}
_BOOLEANS = frozenset({"is_active", "grants_staff", "grants_superuser"})
_TOP_KEYS = ("format", "rules", "groups")
_GROUP_NAME_MAX = Group._meta.get_field("name").max_length

RuleKey = tuple[str, str]  # (source_kind, source_value): what identifies a rule everywhere


class TransferError(ValueError):
    """The document cannot be imported; ``problems`` say what is wrong and where."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = tuple(problems)


@dataclass(frozen=True)
class Desired:
    """A validated document: rules keyed and normalised like ``rule_document``."""

    rules: dict[RuleKey, dict[str, Any]]
    positions: dict[RuleKey, int]  # index in the document's "rules", for messages
    groups: dict[str, list[str]]
    permissions: dict[str, Permission]  # every permission by name, loaded once


def permission_name(permission: Permission) -> str:
    return f"{permission.content_type.app_label}.{permission.codename}"


def permissions_by_name() -> dict[str, Permission]:
    return {permission_name(p): p for p in Permission.objects.select_related("content_type")}


def document_serialize(*, document: dict[str, Any]) -> str:
    """Same rules, same bytes: sorted keys, two-space indent, trailing newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the last of two equal keys; in an RBAC file that hides an edit.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise TransferError([f"duplicate key {json.dumps(key)} in one JSON object"])
        result[key] = value
    return result


def document_parse(*, text: str) -> Any:
    """JSON text -> data; a syntax error is reported with its line and column."""
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except json.JSONDecodeError as exc:
        raise TransferError(
            [f"line {exc.lineno}, column {exc.colno}: not valid JSON: {exc.msg}"]
        ) from exc


def _names_problems(
    value: Any, where: str, known: Container[str] | None, unknown: str
) -> list[str]:
    """A list of distinct strings, each in ``known`` (unchecked when ``known`` is None)."""
    if not isinstance(value, list):
        return [f"{where}: must be a list of strings"]
    problems, seen = [], set()
    for index, item in enumerate(value):
        at = f"{where}[{index}]"
        if not isinstance(item, str):
            problems.append(f"{at}: must be a string")
        elif item in seen:
            problems.append(f"{at}: {json.dumps(item)} is listed twice")
        elif known is not None and item not in known:
            problems.append(f"{at}: {unknown} {json.dumps(item)}")
        if isinstance(item, str):
            seen.add(item)
    return problems


def _value_problems(
    key: str, value: Any, where: str, perms: Container[str], groups: Any
) -> list[str]:
    if key in _CHOICES:
        choices = _CHOICES[key]
        return [] if value in choices else [f"{where}: must be one of {', '.join(choices)}"]
    if key == "permissions":
        return _names_problems(value, where, perms, "unknown permission")
    if key == "groups":
        known = groups if isinstance(groups, dict) else None
        return _names_problems(value, where, known, 'not listed in "groups":')
    if key in _BOOLEANS:
        return [] if isinstance(value, bool) else [f"{where}: must be true or false"]
    return [] if isinstance(value, str) else [f"{where}: must be a string"]


def _model_problems(rule: dict[str, Any], where: str) -> list[str]:
    """The model's own validation (lengths, blank, scope rules are delegated-only)."""
    candidate = MappingRule(**{field: rule[field] for field in services.RULE_FIELDS})
    try:
        candidate.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        return [
            f"{where}: {message}" if field == NON_FIELD_ERRORS else f"{where}.{field}: {message}"
            for field, messages in exc.message_dict.items()
            for message in messages
        ]
    return []


def _rule_problems(rule: Any, where: str, perms: Container[str], groups: Any) -> list[str]:
    if not isinstance(rule, dict):
        return [f"{where}: must be an object"]
    problems = [f"{where}: missing key {json.dumps(key)}" for key in RULE_KEYS if key not in rule]
    for key, value in rule.items():
        if key not in RULE_KEYS:
            problems.append(f"{where}.{key}: unknown key")
        else:
            problems += _value_problems(key, value, f"{where}.{key}", perms, groups)
    return problems or _model_problems(rule, where)


def _groups_problems(groups: Any, perms: Container[str], targeted: set[str]) -> list[str]:
    if not isinstance(groups, dict):
        return ['groups: must be an object of group name -> ["app_label.codename", ...]']
    problems = []
    for name, listed in groups.items():
        where = f"groups[{json.dumps(name)}]"
        if not name or len(name) > _GROUP_NAME_MAX:
            problems.append(f"{where}: a group name has 1 to {_GROUP_NAME_MAX} characters")
        problems += _names_problems(listed, where, perms, "unknown permission")
        if name not in targeted:
            problems.append(f"{where}: no rule targets this group; remove it")
    return problems


def _identity(rule: Any) -> RuleKey | None:
    """The rule's (source_kind, source_value) if both are strings, even when other keys are bad,
    so duplicates are reported alongside every other problem."""
    if not isinstance(rule, dict):
        return None
    kind, value = rule.get("source_kind"), rule.get("source_value")
    return (kind, value) if isinstance(kind, str) and isinstance(value, str) else None


def _rules_problems(rules: list, perms: Container[str], groups: Any) -> tuple[list, set[str]]:
    """Problems of every rule, and the group names the rules target."""
    problems, first, targeted = [], {}, set()
    for index, rule in enumerate(rules):
        problems += _rule_problems(rule, f"rules[{index}]", perms, groups)
        key = _identity(rule)
        if key is not None and key in first:
            shown = f"({json.dumps(key[0])}, {json.dumps(key[1])})"
            problems.append(
                f"rules[{index}]: duplicate (source_kind, source_value) {shown}, "
                f"first at rules[{first[key]}]"
            )
        elif key is not None:
            first[key] = index
        if isinstance(rule, dict) and isinstance(rule.get("groups"), list):
            targeted.update(name for name in rule["groups"] if isinstance(name, str))
    return problems, targeted


def document_validate(*, document: Any) -> Desired:
    """Check the whole document and raise every problem found, or return it normalised.

    A document of another format is refused before anything else is read: its other
    problems would only be noise.
    """
    if not isinstance(document, dict):
        raise TransferError(["document: must be a JSON object"])
    if document.get("format") != FORMAT:
        found = json.dumps(document.get("format"))
        raise TransferError([f"format: must be {json.dumps(FORMAT)}, got {found}"])
    perms = permissions_by_name()
    problems = [f"{key}: unknown key" for key in document if key not in _TOP_KEYS]
    problems += [f"{key}: missing" for key in _TOP_KEYS if key not in document]
    rules, groups = document.get("rules", []), document.get("groups", {})
    if not isinstance(rules, list):
        problems.append("rules: must be a list of rules")
        rules = []
    rule_problems, targeted = _rules_problems(rules, perms, groups)
    problems += rule_problems + _groups_problems(groups, perms, targeted)
    if problems:
        raise TransferError(problems)
    return Desired(
        rules={(r["source_kind"], r["source_value"]): _normalised(r) for r in rules},
        positions={(r["source_kind"], r["source_value"]): i for i, r in enumerate(rules)},
        groups={name: sorted(listed) for name, listed in groups.items()},
        permissions=perms,
    )


def _normalised(rule: dict[str, Any]) -> dict[str, Any]:
    return {**rule, "groups": sorted(rule["groups"]), "permissions": sorted(rule["permissions"])}
