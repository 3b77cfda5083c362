"""Where output goes: data to stdout (table or JSON), messages and progress to stderr.

Consoles are made per call so that they follow the current streams; Rich itself turns colour off
when the stream is not a terminal and honours ``NO_COLOR``.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console


# highlight=False: keys and values are data; Rich's guesswork would colour parts of them
# (the digits inside ``NVDA:02c4...``).
def stdout_console() -> Console:
    return Console(file=sys.stdout, soft_wrap=False, highlight=False)


def stderr_console() -> Console:
    return Console(file=sys.stderr, soft_wrap=True, highlight=False)


def emit_json(data: Any, *, compact: bool = False) -> None:
    """``data`` as strict JSON (``compact``: on one line). NaN and Infinity are not JSON, so
    they raise here rather than reach another program that reads the output."""
    layout: dict[str, Any] = {"separators": (",", ":")} if compact else {"indent": 2}
    text = json.dumps(data, ensure_ascii=False, allow_nan=False, default=str, **layout)
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def note(message: str) -> None:
    """A message for people, on stderr."""
    sys.stderr.write(message.rstrip("\n") + "\n")


def stdin_is_terminal() -> bool:
    try:
        return sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False
