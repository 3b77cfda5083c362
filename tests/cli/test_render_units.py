"""How figures read in tables (cli/render/units.py)."""

from __future__ import annotations

import pytest

from llmcache_cli.cli.render.units import human_bytes, human_duration, plural, shorten_middle


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (59, "59s"),
        (60, "1m"),
        (3600, "1h"),
        (5400, "1h 30m"),
        (8940, "2h 29m"),
        (86_399, "23h 59m"),
        (863_992, "9d 23h"),  # 9d 23h 59m 52s: two units, rounded down
        (86_400 + 59, "1d"),
        (-90, "-1m 30s"),
    ],
)
def test_durations_have_at_most_two_units(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text


def test_bytes_plurals_and_shortening() -> None:
    assert (human_bytes(1023), human_bytes(1536), human_bytes(None)) == ("1023 B", "1.5 KiB", "-")
    assert (
        plural(1, "key"),
        plural(2, "key"),
        plural(1, "miss", "misses"),
        plural(1000, "miss", "misses"),
    ) == (
        "1 key",
        "2 keys",
        "1 miss",
        "1,000 misses",
    )
    long = "analysis:stock:AAPL:" + "0123456789" * 5
    short = shorten_middle(long, 30)
    assert len(short) == 30 and short.startswith("analysis:stock:") and short.endswith("3456789")
    assert shorten_middle("short", 30) == "short"
