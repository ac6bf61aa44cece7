"""A small reader of the Dockerfile: stages and their instructions, continuations joined.

Enough for the rules the tests pin (hadolint checks the rest); not a general parser.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

DOCKERFILE = Path(__file__).resolve().parents[2] / "Dockerfile"


@dataclass
class Stage:
    """One ``FROM`` and the instructions under it, as (INSTRUCTION, arguments) pairs."""

    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, instruction: str) -> list[str]:
        return [args for name, args in self.instructions if name == instruction]

    def last(self, instruction: str) -> str:
        found = self.all(instruction)
        assert found, f"stage {self.name} has no {instruction}"
        return found[-1]


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per logical line; comments dropped, ``\\`` lines joined."""
    logical, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        logical.append(current + stripped)
        current = ""
    pairs = []
    for line in logical:
        name, _, args = line.partition(" ")
        pairs.append((name.upper(), " ".join(args.split())))
    return pairs


def stages(path: Path = DOCKERFILE) -> list[Stage]:
    result: list[Stage] = []
    for name, args in instructions(path.read_text()):
        if name == "FROM":
            base, _, alias = args.partition(" AS ")
            result.append(Stage(base=base.strip(), name=alias.strip() or str(len(result))))
        elif result:
            result[-1].instructions.append((name, args))
    return result


def exec_form(arguments: str) -> list[str]:
    """The JSON array of an exec-form ``CMD`` (raises ValueError on the shell form)."""
    value = json.loads(arguments)
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError(f"not an exec-form array: {arguments}")
    return value
