"""Usage errors in our words, and global options accepted after the command.

Click and Typer word some errors in the terms of the validation library Typer uses ("Value
error, ...", "Input should be a valid number, unable to parse string as a number"): they are
reworded here, with the value the user typed. An unknown command gets a "did you mean".
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

# Global options (cli/app.py) that are moved in front of the command when given after it, so
# that `llmcache stats --timeout 2` works like `llmcache --timeout 2 stats`. --url is not among
# them: the commands that talk to Redis have their own --url.
GLOBAL_WITH_VALUE = ("--timeout", "--config")
GLOBAL_FLAGS = ("--cluster", "--no-cluster", "--debug")

_NUMBER = re.compile(r"Input should be a valid (number|integer)[^.]*\.?")
_INPUT = re.compile(r"Input should be (.*?)\.?$")
_VALUE_ERROR = re.compile(r"Value error, ")
_NO_COMMAND = re.compile(r"No such command '([^']*)'\.?")
_BAD_VALUE = re.compile(r"Invalid value for '([^']+)': ")


def hoist_global_options(argv: Sequence[str], commands: Sequence[str]) -> list[str]:
    """``argv`` with the global options found after the command moved before it."""
    args = list(argv)
    at = _command_index(args, commands)
    if at is None:
        return args
    before, command, rest = args[:at], args[at], args[at + 1 :]
    kept: list[str] = []
    moved: list[str] = []
    i = 0
    while i < len(rest):
        token = rest[i]
        if token == "--":
            kept += rest[i:]
            break
        name = token.split("=", 1)[0]
        if name in GLOBAL_WITH_VALUE:
            if "=" in token:
                moved.append(token)
            elif i + 1 < len(rest):
                moved += [token, rest[i + 1]]
                i += 1
            else:
                kept.append(token)  # no value: let the parser say so
        elif token in GLOBAL_FLAGS:
            moved.append(token)
        else:
            kept.append(token)
        i += 1
    return [*before, *moved, command, *kept]


def _command_index(args: Sequence[str], commands: Sequence[str]) -> int | None:
    i = 0
    while i < len(args):
        token = args[i]
        if token in GLOBAL_WITH_VALUE or token == "--url":
            i += 2
            continue
        if token.startswith("-"):
            i += 1
            continue
        return i if token in commands else None
    return None


def _typed_value(option: str, argv: Sequence[str]) -> str | None:
    names = [name.strip() for name in option.split("/")]
    for i, token in enumerate(argv):
        for name in names:
            if token == name and i + 1 < len(argv):
                return argv[i + 1]
            if token.startswith(name + "="):
                return token[len(name) + 1 :]
    return None


def reword(message: str, argv: Sequence[str], commands: Sequence[str]) -> str:
    """A usage error in our words (see the module's docstring)."""
    missing = _NO_COMMAND.search(message)
    if missing:
        typed = missing.group(1)
        close = [c for c in commands if c.startswith(typed)]
        close = close or difflib.get_close_matches(typed, commands, n=1)
        guess = f": did you mean '{close[0]}'?" if close else ""
        return f"no such command '{typed}'{guess}"
    bad = _BAD_VALUE.search(message)
    value = _typed_value(bad.group(1), argv) if bad else None
    got = f", got {value!r}" if value is not None else ""
    number = _NUMBER.search(message)
    if number:
        kind = "a whole number" if number.group(1) == "integer" else "a number"
        return _NUMBER.sub(f"expected {kind}{got}", message).rstrip()
    message = _VALUE_ERROR.sub("", message)
    return _INPUT.sub(lambda m: f"expected {m.group(1)}{got}", message)
