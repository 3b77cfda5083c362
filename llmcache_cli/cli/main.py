"""The one exit path: every exception becomes one redacted line on stderr and an exit code.

0 success, 1 operational error, 2 usage error, 130 interrupted (docs/design.md, "Errors and exit
codes"). A traceback is
shown only with ``--debug`` (or ``LLMCACHE_DEBUG=1``), and it is redacted too.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import typer
from typer.core import TyperCommand, TyperGroup

from llmcache_cli.cli import registry
from llmcache_cli.errors import EXIT_INTERRUPTED, EXIT_OPERATIONAL, EXIT_USAGE, LLMCacheError
from llmcache_cli.urls import URL_ENV_VARS, Redactor

PROG = "llmcache"


def secrets_in(args: Sequence[str], env: dict[str, str] | os._Environ[str]) -> Redactor:
    """Every password that the command line or the URL env vars carry."""
    redactor = Redactor()
    for text in [*args, *(env.get(name, "") for name in URL_ENV_VARS)]:
        for piece in text.split("="):  # also --url=redis://...
            try:
                parts = urlsplit(piece)
                redactor.add(parts.password)
            except ValueError:
                if "@" in piece and ":" in piece.split("@")[0]:
                    redactor.add(piece.split("@")[0].rsplit(":", 1)[-1])
    return redactor


MAX_ERROR_LINE = 1000  # characters: an error line stays readable whatever the user typed
MAX_ERROR_WORD = 200  # characters of one word (a value echoed back) before its middle goes


def elide(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters by replacing its middle with '…'."""
    if len(text) <= limit:
        return text
    head = (limit - 1) // 2
    return text[:head] + "…" + text[len(text) - (limit - 1 - head) :]


def error_line(message: str, redact: Redactor) -> str:
    """One line, redacted first (so no elision can split a password out of reach of the
    redactor), then shortened: long words lose their middles, then the line does."""
    words = redact(" ".join(message.split())).split(" ")
    line = f"{PROG}: error: " + " ".join(elide(word, MAX_ERROR_WORD) for word in words)
    return elide(line, MAX_ERROR_LINE)


def fail(message: str, code: int, redact: Redactor) -> int:
    sys.stderr.write(error_line(message, redact) + "\n")
    sys.stderr.flush()
    return code


def guarded(call: Callable[[], Any], args: Sequence[str]) -> int:
    """Run the parsed command; map whatever it raises to a message and an exit code."""
    redact = secrets_in(args, os.environ)
    debug = "--debug" in args or os.environ.get("LLMCACHE_DEBUG", "") not in ("", "0")
    try:
        result = call()
    except LLMCacheError as exc:
        if debug:
            sys.stderr.write(redact(traceback.format_exc()))
        return fail(exc.one_line(), exc.exit_code, redact)
    except typer.TyperException as exc:  # Typer's own: a usage error (exit 2) or another refusal
        code = exc.exit_code if isinstance(exc.exit_code, int) else EXIT_OPERATIONAL
        if code == EXIT_USAGE:
            from llmcache_cli.cli.messages import reword

            ctx = getattr(exc, "ctx", None)
            where = ctx.command_path if ctx is not None else PROG
            text = reword(exc.format_message(), args, registry.names())
            return fail(f"{text} (see '{where} --help')", EXIT_USAGE, redact)
        return fail(exc.format_message(), code, redact)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        return fail("interrupted", EXIT_INTERRUPTED, redact)
    except BrokenPipeError:
        return EXIT_OPERATIONAL
    except Exception as exc:  # a bug: still one line, the traceback only on request
        if debug:
            sys.stderr.write(redact(traceback.format_exc()))
        hint = "" if debug else " (rerun with --debug for details and please report it)"
        return fail(f"internal error: {type(exc).__name__}: {exc}{hint}", EXIT_OPERATIONAL, redact)
    return result if isinstance(result, int) else 0


class LLMCacheGroup(TyperGroup):
    """Typer's group with our exit path in place of Typer's/Click's error printing, and
    commands loaded lazily from ``cli/registry.py``."""

    def list_commands(self, ctx: Any) -> list[str]:
        return registry.names()

    def get_command(self, ctx: Any, cmd_name: str) -> TyperCommand | None:
        known = self.commands.get(cmd_name)
        if isinstance(known, TyperCommand):
            return known
        command = registry.load(cmd_name)
        if command is not None:
            self.commands[cmd_name] = command
        return command

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        rows = [(name, registry.summary(name)) for name in registry.names()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        from llmcache_cli.cli.messages import hoist_global_options

        argv = hoist_global_options(sys.argv[1:] if args is None else args, registry.names())
        # No command at all: the help as --help prints it (not squeezed into an error line),
        # with exit 2, a command being missing.
        missing = not argv and bool(getattr(self, "no_args_is_help", False))
        if missing:
            argv = ["--help"]
        code = guarded(
            lambda: super(LLMCacheGroup, self).main(
                argv,
                prog_name or PROG,
                complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            ),
            argv,
        )
        if missing and code == 0:
            code = EXIT_USAGE
        if standalone_mode:
            sys.exit(code)
        return code
