"""The code blocks of README.md and docs/*.md, with the marker that says how the docs test runs
each one.

A marker is an HTML comment on the line just above the opening fence:

* ``<!-- docs-test: skip: REASON -->``: not run (it needs a real deployment, or it is a
  signature rather than a program); the reason is required.
* ``<!-- docs-test: given NAME[, NAME] (...) -->``: Python that uses names the surrounding text
  provides (``cache``: an open ``CacheService``; ``llm``: an LLM client, a stand-in here); it may
  use ``await`` at top level, as in ``python -m asyncio``.

Without a marker, a Python block runs as a program, and every command of a shell block runs in
the suite (``llmcache`` commands only: anything else needs a skip marker).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHELL_LANGS = {"sh", "console", "shell", "bash"}
_FENCE = re.compile(r"^```(\S*)\s*$")
_MARKER = re.compile(r"^<!--\s*docs-test:\s*(skip|given)\s*:?\s*(.*?)\s*-->\s*$")


@dataclass(frozen=True)
class Block:
    path: Path
    line: int  # of the opening fence, 1-based
    lang: str
    text: str
    marker: str | None  # "skip" or "given"
    detail: str  # the skip reason, or the given names (and any note)

    @property
    def id(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"

    @property
    def is_python(self) -> bool:
        return self.lang == "python"

    @property
    def is_shell(self) -> bool:
        if self.lang in SHELL_LANGS:
            return True
        return self.lang == "" and any(line.startswith("$ ") for line in self.text.splitlines())

    @property
    def given(self) -> tuple[str, ...]:
        if self.marker != "given":
            return ()
        names = re.split(r"[\s,]+", self.detail.split("(")[0].strip())
        return tuple(name for name in names if name)


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def blocks(path: Path) -> list[Block]:
    lines = path.read_text(encoding="utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        opening = _FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        end = i + 1
        while end < len(lines) and lines[end].rstrip() != "```":
            end += 1
        marker = _MARKER.match(lines[i - 1]) if i > 0 else None
        found.append(
            Block(
                path=path,
                line=i + 1,
                lang=opening.group(1),
                text="\n".join(lines[i + 1 : end]) + "\n",
                marker=marker.group(1) if marker else None,
                detail=marker.group(2) if marker else "",
            )
        )
        i = end + 1
    return found


def all_blocks() -> list[Block]:
    return [block for path in documents() for block in blocks(path)]


@dataclass(frozen=True)
class ShellCommand:
    line: str  # as written, without the "$ " prompt
    expects_error: bool  # the block shows "llmcache: error:" right after it


def shell_commands(block: Block) -> list[ShellCommand]:
    """The commands of a shell block: ``$ `` lines of a console block (the other lines are
    output), every non-comment line of a script block."""
    lines = block.text.splitlines()
    prompt = block.lang != "sh" and any(line.startswith("$ ") for line in lines)
    out: list[ShellCommand] = []
    for n, raw in enumerate(lines):
        if prompt:
            if not raw.startswith("$ "):
                continue
            following = lines[n + 1] if n + 1 < len(lines) else ""
            out.append(ShellCommand(raw[2:].strip(), following.startswith("llmcache: error:")))
        elif raw.strip() and not raw.lstrip().startswith("#"):
            out.append(ShellCommand(raw.strip(), False))
    return out
