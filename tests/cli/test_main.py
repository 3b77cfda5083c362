"""The one exit path's error line: redacted, then kept short whatever the user typed."""

from __future__ import annotations

from llmcache_cli.cli.main import MAX_ERROR_LINE, MAX_ERROR_WORD, elide, error_line
from llmcache_cli.urls import Redactor


def test_elide_keeps_both_ends() -> None:
    assert elide("abcdef", 10) == "abcdef"
    assert elide("abcdefghij", 5) == "ab…ij" and len(elide("x" * 10_000, 101)) == 101


def test_a_huge_value_loses_its_middle_and_the_hint_survives() -> None:
    line = error_line(f"invalid duration {'A' * 100_000!r} (use 90s, 15m)", Redactor())
    assert line.startswith("llmcache: error: invalid duration 'AAA") and line.endswith("AAA' (use 90s, 15m)")
    assert "…" in line and len(line) < MAX_ERROR_WORD + 50


def test_many_long_words_still_make_a_short_line() -> None:
    line = error_line(" ".join(["B" * 500] * 50) + " the end", Redactor())
    assert len(line) == MAX_ERROR_LINE and line.endswith("the end") and "\n" not in line


def test_a_password_is_redacted_before_anything_is_cut() -> None:
    """Eliding first could cut a secret in two, out of the redactor's reach."""
    secret = "s3cret-" + "p" * 300
    line = error_line(f"cannot connect to redis://:{secret}@host:6379/0", Redactor([secret]))
    assert "s3cret" not in line and "ppp" not in line and "***" in line
