"""Promotion between environments (issue 3): ``manage.py rbac export`` / ``rbac import``.

Everything goes through ``call_command`` as an operator would run it. The promises: export is
byte-stable; export -> wipe -> import -> export is the identity; a dry run changes nothing;
an import audits each changed rule and applies all or nothing; a bad file changes nothing
and says what is wrong and where; importing the same file twice is a no-op.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError

from apps.rbac import services
from apps.rbac.documents import rule_document
from apps.rbac.management.commands.rbac import Command
from apps.rbac.models import MappingAudit, MappingRule, SourceKind, TokenKinds
from apps.rbac.resolution import VERSION_KEY
from apps.rbac.transfer_format import RULE_KEYS, permission_name
from tests.conftest import group_with, stored_rule

EDITORS, VIEWERS, AUDITORS = "Project editors", "Project viewers", "Auditors"
GROUP_OID = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"


# Seven rules, in the order export sorts them (Python's order: upper case first).
WORLD: list[tuple[str, str, dict[str, Any]]] = [
    (
        SourceKind.APP_ROLE,
        "Orders.Read",
        {"label": "Order readers", "token_kinds": TokenKinds.BOTH, "groups": (VIEWERS,)},
    ),
    (
        SourceKind.APP_ROLE,
        "Orders.Sync",
        {"token_kinds": TokenKinds.APP, "perms": ("projects.view_project", "projects.add_project")},
    ),
    (
        SourceKind.APP_ROLE,
        "Portico.Ops",
        {
            "label": "Operators",
            "grants_staff": True,
            "groups": (VIEWERS, EDITORS),
            "perms": ("rbac.view_mappingrule",),
            "notes": "Équipe ops\nsecond line",
        },
    ),
    (SourceKind.APP_ROLE, "portico.ops", {"is_active": False}),
    (SourceKind.GROUP, GROUP_OID, {"label": "Finance team", "groups": (EDITORS,)}),
    (SourceKind.SCOPE, "Projects.Admin", {"is_active": False, "grants_superuser": True}),
    (SourceKind.SCOPE, "access_as_user", {"perms": ("projects.view_project",)}),
]


def build_world(order: Callable[[list], list] = list) -> None:
    for name, perms in order(
        [
            (EDITORS, ("projects.change_project", "projects.add_project")),
            (VIEWERS, ("projects.view_project",)),
            (AUDITORS, ("rbac.view_mappingaudit",)),  # targeted by no rule
        ]
    ):
        group_with(name, *perms)
    for kind, value, fields in order(WORLD):
        groups = Group.objects.filter(name__in=fields.get("groups", ()))
        stored_rule(kind, value, **{**fields, "groups": groups})


@pytest.fixture
def world(db: None) -> None:
    build_world()


def export_text() -> str:
    out = StringIO()
    call_command("rbac", "export", stdout=out)
    return out.getvalue()


def exported() -> dict[str, Any]:
    return json.loads(export_text())


def write(tmp_path: Path, document: Any, name: str = "rbac.json") -> Path:
    path = tmp_path / name
    if isinstance(document, bytes):
        path.write_bytes(document)
    else:
        text = document if isinstance(document, str) else json.dumps(document, indent=2)
        path.write_text(text, encoding="utf-8")
    return path


def run_import(path: Path, *flags: str) -> str:
    out = StringIO()
    call_command("rbac", "import", str(path), *flags, stdout=out)
    return out.getvalue()


def refused(path: Path, *flags: str) -> str:
    with pytest.raises(CommandError) as caught:
        run_import(path, *flags)
    assert caught.value.returncode == 1
    message = str(caught.value)
    assert "nothing was changed" in message
    return message


def db_state() -> dict[str, Any]:
    """Everything an import could touch, ids and timestamps included."""
    rules = MappingRule.objects.order_by("pk")
    return {
        "rules": [(rule.pk, rule.updated_at, rule_document(rule)) for rule in rules],
        "groups": {
            group.name: (group.pk, sorted(map(permission_name, group.permissions.all())))
            for group in Group.objects.all()
        },
        "audits": list(MappingAudit.objects.values_list("pk", flat=True)),
    }


def promoted(document: dict[str, Any]) -> dict[str, Any]:
    """The world as UAT changed it: one rule created, two updated, one deleted, groups too."""
    changed = copy.deepcopy(document)
    rules = changed["rules"]
    rules[0]["label"] = "Order readers (all)"
    rules[1]["permissions"] = ["projects.change_project", "projects.view_project"]
    rules[1]["is_active"] = False
    del rules[5]  # scope Projects.Admin
    rules.append(
        {
            "source_kind": "app_role",
            "source_value": "Reports.Read",
            "label": "Report readers",
            "token_kinds": "delegated",
            "is_active": True,
            "grants_staff": False,
            "grants_superuser": False,
            "groups": ["Report readers"],
            "permissions": [],
            "notes": "",
        }
    )
    changed["groups"][EDITORS] = ["projects.change_project"]
    changed["groups"]["Report readers"] = ["projects.view_project"]
    return changed


# --- export ---------------------------------------------------------------------------------
def test_export_is_sorted_named_and_free_of_ids(world: None) -> None:
    text = export_text()
    document = json.loads(text)

    assert text == json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    assert set(document) == {"format", "rules", "groups"}
    assert document["format"] == "portico.rbac/1"
    assert [(r["source_kind"], r["source_value"]) for r in document["rules"]] == [
        (kind, value) for kind, value, _ in WORLD
    ]
    assert document["rules"][2] == {
        "source_kind": "app_role",
        "source_value": "Portico.Ops",
        "label": "Operators",
        "token_kinds": "delegated",
        "is_active": True,
        "grants_staff": True,
        "grants_superuser": False,
        "groups": [EDITORS, VIEWERS],
        "permissions": ["rbac.view_mappingrule"],
        "notes": "Équipe ops\nsecond line",
    }
    # Only the groups that rules target travel, each with its permissions by name.
    assert document["groups"] == {
        EDITORS: ["projects.add_project", "projects.change_project"],
        VIEWERS: ["projects.view_project"],
    }
    assert "Équipe" in text  # readable in a diff, not \u00c9


@pytest.mark.django_db
def test_export_is_byte_stable_whatever_the_insertion_order() -> None:
    build_world()
    first, second = export_text(), export_text()
    MappingRule.objects.all().delete()
    Group.objects.all().delete()
    build_world(order=lambda items: list(reversed(items)))

    assert first == second == export_text()


def test_export_to_a_file_writes_the_same_bytes(world: None, tmp_path: Path) -> None:
    out = StringIO()
    call_command("rbac", "export", "--output", str(tmp_path / "uat.json"), stdout=out)

    assert (tmp_path / "uat.json").read_bytes() == export_text().encode()
    assert "Wrote 7 rules and 2 groups" in out.getvalue()


def test_export_keys_are_the_audit_documents_keys(world: None) -> None:
    rule = MappingRule.objects.first()
    assert set(RULE_KEYS) == set(rule_document(rule))


# --- import: round trip, dry run, apply, idempotence -----------------------------------------
def test_round_trip_is_the_identity(world: None, tmp_path: Path) -> None:
    before = export_text()
    path = write(tmp_path, before)
    MappingRule.objects.all().delete()
    Group.objects.all().delete()

    output = run_import(path)

    assert export_text() == before
    assert "Rules: 7 created, 0 updated, 0 deleted, 0 unchanged." in output
    assert "Groups: 2 created, 0 updated, 0 unchanged." in output
    assert MappingAudit.objects.filter(via="import", action="create").count() == len(WORLD)


def test_dry_run_changes_nothing_and_prints_the_diff(
    world: None, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    path = write(tmp_path, promoted(exported()))
    before = db_state()

    with django_capture_on_commit_callbacks() as callbacks:
        output = run_import(path, "--dry-run")

    assert db_state() == before
    assert callbacks == []  # no version bump either
    lines = output.splitlines()
    for expected in [
        '- scope "Projects.Admin"',
        '~ app_role "Orders.Read" (Order readers (all))',
        '    label: "Order readers" -> "Order readers (all)"',
        '~ app_role "Orders.Sync"',
        "    is_active: true -> false",
        '    permissions: +"projects.change_project" -"projects.add_project"',
        '+ app_role "Reports.Read" (Report readers)',
        '    groups: ["Report readers"]',
        '~ Django group "Project editors"',
        '    permissions: -"projects.add_project"',
        '+ Django group "Report readers"',
        '    permissions: +"projects.view_project"',
        "Rules: 1 created, 2 updated, 1 deleted, 4 unchanged.",
        "Groups: 1 created, 1 updated, 1 unchanged.",
        "Dry run: nothing was changed.",
    ]:
        assert expected in lines


def test_apply_reaches_the_document_and_audits_each_changed_rule(
    world: None, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    document = promoted(exported())
    path = write(tmp_path, document)
    auditors = db_state()["groups"][AUDITORS]

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        output = run_import(path, "--actor", "PR #42 (alice)")

    assert "Rules: 1 created, 2 updated, 1 deleted, 4 unchanged." in output
    assert "Applied in one transaction." in output
    assert callbacks  # the version bump reaches every worker once committed
    audits = MappingAudit.objects.order_by("pk")
    assert sorted((a.action, a.rule_repr) for a in audits) == [
        ("create", "App role: Reports.Read (Report readers)"),
        ("delete", "Scope: Projects.Admin"),
        ("update", "App role: Orders.Read (Order readers (all))"),
        ("update", "App role: Orders.Sync"),
    ]
    assert {(a.via, a.actor_label) for a in audits} == {("import", "PR #42 (alice)")}
    sync = audits.get(rule_repr="App role: Orders.Sync")
    assert (sync.before["is_active"], sync.after["is_active"]) == (True, False)
    # The database now says exactly what the file says; untargeted groups are left alone.
    expected = copy.deepcopy(document)
    expected["rules"].sort(key=lambda r: (r["source_kind"], r["source_value"]))
    assert exported() == expected
    assert db_state()["groups"][AUDITORS] == auditors


def test_importing_the_same_file_twice_is_a_no_op(
    world: None, tmp_path: Path, django_capture_on_commit_callbacks: Any
) -> None:
    path = write(tmp_path, promoted(exported()))
    run_import(path)
    before = db_state()

    with django_capture_on_commit_callbacks() as callbacks:
        output = run_import(path)

    assert db_state() == before
    assert callbacks == []
    assert "Rules: 0 created, 0 updated, 0 deleted, 7 unchanged." in output
    assert "Nothing to do: the database already matches the file." in output


def test_targets_and_order_in_the_file_do_not_matter(world: None, tmp_path: Path) -> None:
    document = exported()
    document["rules"].reverse()
    sync = next(rule for rule in document["rules"] if rule["source_value"] == "Orders.Sync")
    sync["permissions"].reverse()
    document["groups"][EDITORS].reverse()
    before = db_state()

    output = run_import(write(tmp_path, document))

    assert db_state() == before
    assert "Rules: 0 created, 0 updated, 0 deleted, 7 unchanged." in output


def test_an_empty_document_deletes_every_rule(world: None, tmp_path: Path) -> None:
    path = write(tmp_path, {"format": "portico.rbac/1", "rules": [], "groups": {}})

    output = run_import(path)

    assert not MappingRule.objects.exists()
    assert "Rules: 0 created, 0 updated, 7 deleted, 0 unchanged." in output
    assert MappingAudit.objects.filter(action="delete", via="import").count() == len(WORLD)
    assert Group.objects.count() == 3  # groups are never deleted by an import


# --- a bad file changes nothing and says where ----------------------------------------------
def _set(path: tuple, value: Any) -> Callable[[dict], None]:
    def change(document: dict) -> None:
        target = document
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value

    return change


def _pop(index: int, key: str) -> Callable[[dict], None]:
    return lambda document: document["rules"][index].pop(key)


def _append_copy_of(index: int) -> Callable[[dict], None]:
    return lambda document: document["rules"].append(dict(document["rules"][index]))


# id: (change to a valid export, the problem reported)
BAD_DOCUMENTS: dict[str, tuple[Callable[[dict], None], str]] = {
    "format-tag": (
        _set(("format",), "portico.rbac/2"),
        'format: must be "portico.rbac/1", got "portico.rbac/2"',
    ),
    "source-kind": (
        _set(("rules", 3, "source_kind"), "role"),
        "rules[3].source_kind: must be one of app_role, group, scope",
    ),
    "unknown-permission": (
        _set(("rules", 5, "permissions"), ["projects.view_project", "projects.fly_project"]),
        'rules[5].permissions[1]: unknown permission "projects.fly_project"',
    ),
    "duplicate-rule": (
        _append_copy_of(2),
        'rules[7]: duplicate (source_kind, source_value) ("app_role", "Portico.Ops"), '
        "first at rules[2]",
    ),
    "scope-for-apps": (
        _set(("rules", 5, "token_kinds"), "app"),
        "rules[5].token_kinds: Scopes only appear in delegated tokens: choose delegated.",
    ),
    "token-kinds": (
        _set(("rules", 1, "token_kinds"), "daemons"),
        "rules[1].token_kinds: must be one of delegated, app, both",
    ),
    "boolean": (
        _set(("rules", 0, "is_active"), "yes"),
        "rules[0].is_active: must be true or false",
    ),
    "string": (_set(("rules", 0, "label"), 7), "rules[0].label: must be a string"),
    "outer-spaces": (
        _set(("rules", 0, "source_value"), " Orders.Read"),
        "rules[0].source_value: Must be non-empty, without outer spaces.",
    ),
    "too-long": (
        _set(("rules", 0, "label"), "x" * 300),
        "rules[0].label: Ensure this value has at most 256 characters (it has 300).",
    ),
    "missing-key": (_pop(4, "notes"), 'rules[4]: missing key "notes"'),
    "unknown-key": (_set(("rules", 4, "colour"), "red"), "rules[4].colour: unknown key"),
    "rule-type": (_set(("rules", 4), "group"), "rules[4]: must be an object"),
    "group-not-listed": (
        _set(("rules", 0, "groups"), ["Nobody"]),
        'rules[0].groups[0]: not listed in "groups": "Nobody"',
    ),
    "listed-twice": (
        _set(("rules", 6, "permissions"), ["projects.view_project", "projects.view_project"]),
        'rules[6].permissions[1]: "projects.view_project" is listed twice',
    ),
    "group-permission": (
        _set(("groups", EDITORS), ["projects.add_project", "projects"]),
        'groups["Project editors"][1]: unknown permission "projects"',
    ),
    "untargeted-group": (
        _set(("groups", "Orphans"), []),
        'groups["Orphans"]: no rule targets this group; remove it',
    ),
    "rules-type": (_set(("rules",), {}), "rules: must be a list of rules"),
    "groups-missing": (lambda document: document.pop("groups"), "groups: missing"),
    "top-level-key": (_set(("extra",), 1), "extra: unknown key"),
}


@pytest.mark.parametrize(("change", "problem"), BAD_DOCUMENTS.values(), ids=BAD_DOCUMENTS.keys())
def test_a_bad_document_changes_nothing_and_says_where(
    world: None, tmp_path: Path, change: Callable[[dict], None], problem: str
) -> None:
    document = promoted(exported())  # would change plenty, were it valid
    change(document)
    path = write(tmp_path, document)
    before = db_state()

    for flags in [(), ("--dry-run",)]:
        message = refused(path, *flags)

        assert f"  {problem}" in message.splitlines()
        assert db_state() == before


BAD_TEXTS = [
    pytest.param(
        '{\n  "format": "portico.rbac/1",\n  "rules": [,]\n}',
        "line 3, column 13: not valid JSON: Expecting value",
        id="syntax",
    ),
    pytest.param("", "line 1, column 1: not valid JSON: Expecting value", id="empty"),
    pytest.param("[]", "document: must be a JSON object", id="not-an-object"),
    pytest.param(
        '{"format": "portico.rbac/1", "rules": [], "groups": {}, "rules": []}',
        'duplicate key "rules" in one JSON object',
        id="duplicate-key",
    ),
    pytest.param(b'{"format": "\xff"}', "byte 12: not UTF-8 text", id="not-utf8"),
]


@pytest.mark.parametrize(("text", "problem"), BAD_TEXTS)
def test_a_file_that_is_not_a_document_changes_nothing(
    world: None, tmp_path: Path, text: str | bytes, problem: str
) -> None:
    path = write(tmp_path, text)
    before = db_state()

    message = refused(path)

    assert message.splitlines() == [
        f"{path}: refused (1 problem), nothing was changed:",
        f"  {problem}",
    ]
    assert db_state() == before


def test_every_problem_is_reported_at_once(world: None, tmp_path: Path) -> None:
    document = exported()
    document["rules"][1]["source_kind"] = "role"
    document["rules"][4]["is_active"] = 1
    document["groups"][VIEWERS].append("projects.fly_project")

    message = refused(write(tmp_path, document))

    assert message.splitlines()[1:] == [
        "  rules[1].source_kind: must be one of app_role, group, scope",
        "  rules[4].is_active: must be true or false",
        '  groups["Project viewers"][1]: unknown permission "projects.fly_project"',
    ]
    assert "refused (3 problems)" in message


def test_the_list_of_problems_is_bounded(world: None, tmp_path: Path) -> None:
    document = exported()
    document["rules"] = [{"source_kind": "app_role"}] * 30  # 9 missing keys each
    document["groups"] = {}

    message = refused(write(tmp_path, document))

    lines = message.splitlines()
    assert len(lines) == 1 + 50 + 1
    assert lines[0].endswith("refused (270 problems), nothing was changed:")
    assert lines[-1] == "  ... and 220 more"


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="cannot read: No such file") as caught:
        run_import(tmp_path / "absent.json")
    assert caught.value.returncode == 1


@pytest.mark.django_db(transaction=True)
def test_a_failure_mid_way_rolls_back_everything(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real transaction here (not the test's savepoint): the import is the outermost one."""
    from django.core.cache import cache

    build_world()
    document = promoted(exported())
    for rule in document["rules"]:
        rule["notes"] = "promoted"
    path = write(tmp_path, document)
    real_save, calls = services.mapping_save, []

    def failing_save(**kwargs: Any) -> MappingRule:
        calls.append(kwargs["data"]["source_value"])
        if len(calls) == 3:
            raise DatabaseError("simulated failure")
        return real_save(**kwargs)

    monkeypatch.setattr(services, "mapping_save", failing_save)
    before, version = db_state(), cache.get(VERSION_KEY)

    message = refused(path)

    assert calls == ["Orders.Read", "Orders.Sync", "Portico.Ops"]
    assert "  rules[2]: could not be applied (update): simulated failure" in message.splitlines()
    assert db_state() == before  # groups, deletion and the first two rules rolled back
    assert cache.get(VERSION_KEY) == version  # and no version bump for what never committed


def test_usage_errors_exit_with_2(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["rbac"], ["rbac", "import"], ["rbac", "import", "f.json", "--force"]):
        with pytest.raises(SystemExit) as caught:
            Command().run_from_argv(["manage.py", *argv])
        assert caught.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_a_bad_file_exits_with_1_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, '{"format": "other"}')

    with pytest.raises(SystemExit) as caught:
        Command().run_from_argv(["manage.py", "rbac", "--skip-checks", "import", str(path)])

    assert caught.value.code == 1
    assert 'format: must be "portico.rbac/1", got "other"' in capsys.readouterr().err


@pytest.mark.django_db
def test_an_unwritable_output_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="cannot write") as caught:
        call_command("rbac", "export", "--output", str(tmp_path / "no" / "such" / "dir.json"))
    assert caught.value.returncode == 1


@pytest.mark.django_db
def test_the_documented_example_is_a_valid_export(tmp_path: Path) -> None:
    """docs/rbac-promotion.md shows a real document: importing it and exporting it again
    gives back the same text."""
    doc = (Path(__file__).parents[2] / "docs" / "rbac-promotion.md").read_text(encoding="utf-8")
    example = doc.split("```json\n", 1)[1].split("```", 1)[0]
    MappingRule.objects.all().delete()

    run_import(write(tmp_path, example))

    assert export_text() == example
