"""``python manage.py rbac export|import``: promote mapping rules between environments.

Exit status: 0 when the export was written or the import applied (or had nothing to do),
1 when the file was refused or could not be applied (nothing changed), 2 for a usage error.
See docs/rbac-promotion.md.
"""

from __future__ import annotations

import json
from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from apps.rbac.transfer import ImportReport, RuleChange, mapping_export, mapping_import
from apps.rbac.transfer_format import TransferError, document_parse, document_serialize

MAX_SHOWN = 50  # problems listed for a refused file; the rest are counted
_SIGNS = {"create": "+", "update": "~", "delete": "-"}


def _value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _rule_lines(change: RuleChange) -> list[str]:
    label = f" ({change.label})" if change.label else ""
    lines = [f"{_SIGNS[change.action]} {change.source_kind} {_value(change.source_value)}{label}"]
    for field in change.fields:
        if change.action == "create":
            shown = _value(field.after)
        elif isinstance(field.after, list):
            shown = " ".join(
                [f"+{_value(name)}" for name in field.after if name not in field.before]
                + [f"-{_value(name)}" for name in field.before if name not in field.after]
            )
        else:
            shown = f"{_value(field.before)} -> {_value(field.after)}"
        lines.append(f"    {field.field}: {shown}")
    return lines


def report_lines(report: ImportReport) -> list[str]:
    """The diff a reviewer reads: each change, field by field, then the counts."""
    lines = [line for change in report.rules for line in _rule_lines(change)]
    for group in report.groups:
        sign = "+" if group.created else "~"
        names = [f"+{_value(n)}" for n in group.added] + [f"-{_value(n)}" for n in group.removed]
        lines.append(f"{sign} Django group {_value(group.name)}")
        lines.append(f"    permissions: {' '.join(names) or '(none)'}")
    groups_changed = len(report.groups)
    groups_created = sum(1 for group in report.groups if group.created)
    lines += [
        f"Rules: {report.count('create')} created, {report.count('update')} updated, "
        f"{report.count('delete')} deleted, {report.rules_unchanged} unchanged.",
        f"Groups: {groups_created} created, {groups_changed - groups_created} updated, "
        f"{report.groups_unchanged} unchanged.",
    ]
    if report.dry_run:
        lines.append("Dry run: nothing was changed.")
    elif report.rules or report.groups:
        lines.append("Applied in one transaction.")
    else:
        lines.append("Nothing to do: the database already matches the file.")
    return lines


def _refused(source: str, problems: tuple[str, ...]) -> CommandError:
    shown = [f"  {problem}" for problem in problems[:MAX_SHOWN]]
    if len(problems) > MAX_SHOWN:
        shown.append(f"  ... and {len(problems) - MAX_SHOWN} more")
    count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
    return CommandError("\n".join([f"{source}: refused ({count}), nothing was changed:", *shown]))


def _read(path: str) -> str:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise CommandError(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        return data.decode("utf-8-sig")  # tolerate the BOM some editors add
    except UnicodeDecodeError as exc:
        raise _refused(path, (f"byte {exc.start}: not UTF-8 text",)) from exc


class Command(BaseCommand):
    help = "Export the RBAC mapping rules as JSON, or import such a file (the desired state)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{export,import}")
        export = actions.add_parser("export", help="write every rule and its targeted groups")
        export.add_argument("--output", "-o", metavar="FILE", help="write to FILE, not stdout")
        load = actions.add_parser("import", help="make the rules what FILE says")
        load.add_argument("file", metavar="FILE")
        load.add_argument("--dry-run", action="store_true", help="print the changes, write nothing")
        load.add_argument(
            "--actor", help='who applies it, for the audit trail (default: "rbac import FILE")'
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "export":
            self._export(options["output"])
        else:
            self._import(options["file"], options["dry_run"], options["actor"])

    def _export(self, output: str | None) -> None:
        document = mapping_export()
        text = document_serialize(document=document)
        if output is None:
            self.stdout.write(text, ending="")
            return
        try:
            Path(output).write_text(text, encoding="utf-8", newline="\n")
        except OSError as exc:
            raise CommandError(f"{output}: cannot write: {exc.strerror}") from exc
        rules, groups = len(document["rules"]), len(document["groups"])
        self.stdout.write(f"Wrote {rules} rules and {groups} groups to {output}.")

    def _import(self, path: str, dry_run: bool, actor: str | None) -> None:
        actor = actor or f"rbac import {Path(path).name}"
        try:
            document = document_parse(text=_read(path))
            report = mapping_import(document=document, dry_run=dry_run, actor=actor)
        except TransferError as exc:
            raise _refused(path, exc.problems) from exc
        self.stdout.write("\n".join(report_lines(report)))
