"""How figures read in tables: bytes, durations, counts, rates, plurals. JSON never uses these
(it has exact numbers: bytes, seconds, fractions)."""

from __future__ import annotations

DURATION_UNITS = (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1))


def human_bytes(n: float | None) -> str:
    """1536 -> "1.5 KiB"; whole bytes below 1 KiB; "-" for none."""
    if n is None:
        return "-"
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"  # pragma: no cover - the loop returns


def human_duration(seconds: float) -> str:
    """At most two units, the larger ones, rounded down: 863992 -> "9d 23h", 8940 -> "2h 29m",
    3600 -> "1h", 0 -> "0s". (``--json`` has the exact seconds.)"""
    whole = int(seconds)
    if whole < 0:
        return "-" + human_duration(-whole)
    parts: list[tuple[int, str]] = []
    for unit, size in DURATION_UNITS:
        count, whole = divmod(whole, size)
        if count or parts:
            parts.append((count, unit))
        if len(parts) == 2:
            break
    shown = [f"{count}{unit}" for count, unit in parts if count]
    return " ".join(shown) or "0s"


def human_ttl(seconds: int | None) -> str:
    return "no TTL" if seconds is None else human_duration(seconds)


def human_count(n: int, exact: bool = True) -> str:
    return f"{n:,}" if exact else f"~{n:,}"


def human_rate(rate: float | None) -> str:
    """A fraction as a percentage (0.769 -> "76.9%"); "n/a" when there is none."""
    return "n/a" if rate is None else f"{rate:.1%}"


def human_pct(value: float | None) -> str:
    """A percentage as it is (76.9 -> "76.9%"); "n/a" when there is none."""
    return "n/a" if value is None else f"{value:.1f}%"


def plural(n: int, one: str, many: str | None = None) -> str:
    """ "1 key", "2 keys", "1,000 misses": the count and the word that goes with it."""
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def dollars(x: float) -> str:
    """Cents below $1 need more places: $0.0870, $12.50."""
    return f"${x:,.4f}" if abs(x) < 1 else f"${x:,.2f}"


def shorten_middle(text: str, width: int) -> str:
    """``text`` in at most ``width`` characters, its middle replaced by "…" (the start and the
    end of a key say the most: namespace and entity, then version or hash)."""
    if len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    head = (width - 1 + 1) // 2
    tail = width - 1 - head
    return text[:head] + "…" + (text[len(text) - tail :] if tail else "")
