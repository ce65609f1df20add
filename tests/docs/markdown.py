"""Fenced code blocks of a Markdown file, and what each kind of block means to the docs tests.

- ```console: a terminal session. `$ ` starts a command (a trailing `\\` continues it); the lines
  after it are output the command must print, in order; `...` stands for anything, on its own
  line or inside one. An expected line starting with `error:` means the command must fail.
- ```bash: commands only, one per line, no prompts and no expected output.
- ```python: run in one namespace per document, in order.
- ```yaml: a file. When its first line is a comment naming a path (`# data.yml`), the block is
  written there for the commands after it; when that file already exists (a sample), the block
  must show its content exactly. Every YAML block must parse.
- ```json must parse; ```text is shown only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

RUNNABLE = ("console", "bash", "python")
SHOWN_ONLY = ("yaml", "json", "text")
_FENCE = re.compile(r"^```([A-Za-z0-9_+-]*)\s*$")


@dataclass
class Block:
    lang: str
    text: str
    line: int  # 1-based line of the opening fence

    @property
    def where(self) -> str:
        return f"line {self.line} ({self.lang} block)"


@dataclass
class Command:
    text: str
    expected: list[str] = field(default_factory=list)

    @property
    def must_fail(self) -> bool:
        return any(line.strip().startswith("error:") for line in self.expected)


def blocks(path: Path) -> list[Block]:
    found: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        match = _FENCE.match(lines[i])
        if not match:
            i += 1
            continue
        start, body = i, []
        i += 1
        while i < len(lines) and lines[i].rstrip() != "```":
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise AssertionError(f"{path}:{start + 1}: the code block is never closed")
        found.append(Block(match[1].lower(), "\n".join(body) + "\n", start + 1))
        i += 1
    return found


def console_commands(text: str) -> list[Command]:
    commands: list[Command] = []
    pending = ""
    for raw in text.splitlines():
        if pending:
            pending += "\n" + raw
            if not raw.endswith("\\"):
                commands.append(Command(pending))
                pending = ""
            continue
        if raw.startswith("$ "):
            cmd = raw[2:]
            if cmd.endswith("\\"):
                pending = cmd
            else:
                commands.append(Command(cmd))
        elif raw.strip():
            if not commands:
                raise AssertionError(f"output before any command: {raw!r}")
            commands[-1].expected.append(raw)
    return commands


def bash_commands(text: str) -> list[Command]:
    joined = text.replace("\\\n", " ")
    return [
        Command(line.strip())
        for line in joined.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]


def _normal(line: str) -> str:
    return " ".join(line.split())


def output_matches(expected: list[str], actual: str) -> str | None:
    """None when every expected line matches an output line, in order; else what is missing."""
    lines = [_normal(x) for x in actual.splitlines()]
    pos = 0
    for want in expected:
        norm = _normal(want)
        if norm in ("", "..."):
            continue
        pattern = re.compile("^" + ".*".join(re.escape(part) for part in norm.split("...")) + "$")
        while pos < len(lines) and not pattern.match(lines[pos]):
            pos += 1
        if pos == len(lines):
            return want
        pos += 1
    return None
