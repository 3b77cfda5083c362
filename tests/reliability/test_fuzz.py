"""Property-based fuzzing with hypothesis (issue 8): key parsing and glob escaping, envelope
decoding of arbitrary bytes, duration and date parsing, and URL parsing and redaction.

Each property is one the rest of the code relies on: parsers never raise anything but the
project's usage error (so a user sees one line, not a traceback), round trips are exact, and a
symbol is data, never a pattern, even against the real server's SCAN MATCH.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import math
from typing import Any
from urllib.parse import quote

import pytest
import pytz
import redis
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from llmcache_cli import CacheService
from llmcache_cli.config import Settings
from llmcache_cli.durations import format_duration, parse_duration, parse_instant
from llmcache_cli.envelope import decode_entry, encode_envelope
from llmcache_cli.errors import UsageError
from llmcache_cli.keys import (
    InvalidKeyPart,
    ParsedKey,
    build_key,
    check_segment,
    escape_glob,
    key_has_symbol,
    parse_key,
    symbol_match_patterns,
)
from llmcache_cli.limits import MAX_TTL_SECONDS
from llmcache_cli.market import NY
from llmcache_cli.urls import parse_redis_url, redact_url

FAST = settings(max_examples=100, deadline=None)
GLOB = "*?[]\\^-!{}"
# Key segments as users and callers type them: letters, digits, glob and hash-tag characters,
# punctuation, unicode; never ':' or control characters (check_segment refuses those).
segment_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters=":"),
    min_size=1,
    max_size=12,
) | st.text(alphabet=GLOB + "AB.$", min_size=1, max_size=6)


def valid_segment(text: str) -> bool:
    try:
        check_segment(text, "segment")
    except InvalidKeyPart:
        return False
    return True


segment = segment_text.filter(valid_segment)
# Hash-tagged symbols may hold '{' but not '}': Redis Cluster ends a tag at its first '}' (see
# test_braces_inside_a_tagged_symbol).
symbol = segment.filter(lambda s: "}" not in s)


# ---------------------------------------------------------------------------------------------
# Keys


@FAST
@given(st.one_of(st.text(max_size=60), st.binary(max_size=60)))
def test_parse_key_never_raises_and_is_faithful(key: str | bytes) -> None:
    """Any text or bytes: None, or parts that join back into the same key."""
    parsed = parse_key(key)
    if parsed is None:
        return
    text = key.decode("utf-8") if isinstance(key, bytes) else key
    identifier = "{" + parsed.identifier + "}" if parsed.hash_tagged else parsed.identifier
    assert ":".join([parsed.namespace, parsed.entity, identifier, *parsed.qualifiers]) == text


@FAST
@given(segment, segment, symbol, st.lists(segment, max_size=3), st.booleans())
def test_build_then_parse_round_trips(
    ns: str, entity: str, sym: str, qualifiers: list[str], tag: bool
) -> None:
    key = build_key(ns, entity, sym, *qualifiers, hash_tag=tag)
    assert parse_key(key) == ParsedKey(ns, entity, sym, tuple(qualifiers), tag)
    assert key_has_symbol(key, sym, {entity})


@FAST
@given(symbol, symbol, st.booleans())
def test_a_key_belongs_to_exactly_its_symbol(sym: str, other: str, tag: bool) -> None:
    """AAPL's key is not AAPLX's, aapl's or AAPL*'s: equality, case-sensitive, never a glob."""
    assume(sym != other)
    key = build_key("analysis", "stock", sym, "v1", hash_tag=tag)
    assert key_has_symbol(key, sym) and not key_has_symbol(key, other)


def test_braces_inside_a_tagged_symbol() -> None:
    key = build_key("analysis", "stock", "A{B", "v1", hash_tag=True)
    assert parse_key(key) is not None


@pytest.mark.redis
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(target=symbol, others=st.lists(symbol, min_size=1, max_size=4, unique=True))
def test_escaped_symbol_matches_only_itself_on_the_real_server(
    real_redis: redis.Redis, target: str, others: list[str]
) -> None:
    """SCAN MATCH with the escaped patterns, then the exact test, finds exactly the target's
    keys among keys of other symbols built around it (prefixes, suffixes, glob look-alikes)."""
    decoys = {o for o in others if o != target} | {target + "X", "X" + target, target.lower(), target + "*"}
    decoys.discard(target)
    keys = {build_key("analysis", "stock", s, "v1", hash_tag=t) for s in decoys for t in (False, True)}
    mine = {build_key("analysis", "stock", target, "v1", hash_tag=t) for t in (False, True)}
    real_redis.mset(dict.fromkeys(keys | mine, "1"))
    try:
        found = set()
        for pattern in symbol_match_patterns(target):
            found |= {k.decode() for k in real_redis.scan_iter(match=pattern, count=1000)}
        assert {k for k in found if key_has_symbol(k, target)} == mine
        assert {k.decode() for k in real_redis.scan_iter(match=escape_glob(target), count=1000)} <= {target}
    finally:
        real_redis.delete(*(keys | mine))


# ---------------------------------------------------------------------------------------------
# Envelopes

json_value = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@FAST
@given(st.binary(max_size=200))
def test_decode_entry_never_raises_on_arbitrary_bytes(raw: bytes) -> None:
    entry = decode_entry(raw)
    assert entry.kind in ("envelope", "json", "text", "binary")
    if entry.kind == "binary":
        assert entry.result == raw
    assert entry.cost_usd >= 0 and entry.latency_ms >= 0


@FAST
@given(json_value, st.dictionaries(st.sampled_from(["model", "cost_usd", "latency_ms", "x"]), json_value))
def test_envelope_round_trips(result: Any, meta: dict[str, Any]) -> None:
    entry = decode_entry(encode_envelope(result, meta))
    assert (entry.kind, entry.result, entry.meta) == ("envelope", result, meta)


@FAST
@given(json_value)
def test_plain_json_is_json_not_an_envelope(value: Any) -> None:
    assume(not (isinstance(value, dict) and set(value) == {"result", "meta"}))
    entry = decode_entry(json.dumps(value).encode())
    assert entry.kind == "json" and entry.result == value and entry.meta is None


def test_poisoned_meta_gives_finite_figures() -> None:
    entry = decode_entry(b'{"result": 1, "meta": {"cost_usd": 1e400, "latency_ms": 1e400}}')
    assert math.isfinite(entry.cost_usd) and math.isfinite(entry.latency_ms)


@pytest.mark.redis
def test_the_library_ignores_poisoned_meta(redis_url: str, real_redis: redis.Redis) -> None:
    """An entry someone wrote with an infinite cost is still a hit, and the live counters and
    in-process totals stay finite (the library's own guard)."""
    real_redis.set(
        "analysis:stock:AAPL:v1", b'{"result": 7, "meta": {"cost_usd": 1e400, "latency_ms": 1e400}}'
    )

    async def go() -> tuple[Any, CacheService]:
        async with CacheService(redis_url, settings=Settings()) as cache:
            return await cache.get("analysis:stock:AAPL:v1"), cache

    value, cache = asyncio.run(go())
    assert value == 7 and cache.stats.hits == 1
    assert math.isfinite(cache.stats.cost_without_cache_usd)
    counters = real_redis.hgetall("llmcache:stats:analysis")
    assert counters[b"hits"] == b"1" and all(math.isfinite(float(v)) for v in counters.values())


# ---------------------------------------------------------------------------------------------
# Durations and instants


@FAST
@given(st.text(max_size=30) | st.from_regex(r"-?[0-9]{0,20}[smhdw]?([0-9]{1,5}[smhdw]){0,3}", fullmatch=True))
def test_parse_duration_returns_seconds_or_a_usage_error(text: str) -> None:
    try:
        seconds = parse_duration(text)
    except UsageError as exc:
        assert exc.exit_code == 2 and "\n" not in exc.one_line()
        return
    assert isinstance(seconds, int) and 0 < seconds <= MAX_TTL_SECONDS


@FAST
@given(st.integers(min_value=1, max_value=MAX_TTL_SECONDS))
def test_format_then_parse_duration_round_trips(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


@FAST
@given(
    st.text(max_size=40)
    | st.from_regex(
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2})?)?(Z|[+-][0-9]{2}:[0-9]{2})?"
    )
)
def test_parse_instant_returns_an_aware_time_or_a_usage_error(text: str) -> None:
    """Whatever is typed after --at: an aware time that converts to UTC and New York time (the
    policy does both), or one usage-error line."""
    try:
        at = parse_instant(text)
    except UsageError as exc:
        assert exc.exit_code == 2 and "\n" not in exc.one_line()
        return
    assert at.tzinfo is not None
    at.astimezone(pytz.utc)
    at.astimezone(NY)


@FAST
@given(st.datetimes(timezones=st.timezones()))
def test_iso_times_with_an_offset_round_trip(when: dt.datetime) -> None:
    try:
        parsed = parse_instant(when.isoformat())
    except UsageError:  # only for instants whose UTC or New York time is beyond year 1..9999
        with pytest.raises(OverflowError):
            when.astimezone(pytz.utc).astimezone(NY)
        return
    # the same wall time and offset (== would say False for a time in a DST gap, PEP 495)
    assert (parsed.replace(tzinfo=None), parsed.utcoffset()) == (when.replace(tzinfo=None), when.utcoffset())


@FAST
@given(st.datetimes(min_value=dt.datetime(1900, 1, 1), max_value=dt.datetime(2200, 1, 1)))
def test_naive_times_are_new_york_time(when: dt.datetime) -> None:
    try:
        parsed = parse_instant(when.isoformat())
    except UsageError as exc:  # the DST gap or overlap: one line asking for an offset
        assert "New York" in exc.one_line() and "offset" in exc.one_line()
        return
    assert parsed.replace(tzinfo=None) == when and parsed.utcoffset() == NY.localize(when).utcoffset()


# ---------------------------------------------------------------------------------------------
# URLs


@FAST
@given(st.text(max_size=80))
def test_parse_redis_url_never_raises_anything_else(text: str) -> None:
    try:
        parse_redis_url(text)
    except UsageError as exc:
        assert "\n" not in exc.one_line()


@FAST
@given(
    st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), min_size=6, max_size=30),
    st.sampled_from(["", "ops"]),
)
def test_any_password_round_trips_and_never_shows(password: str, user: str) -> None:
    """A percent-encoded password of any characters is read back exactly and never printed."""
    url = f"redis://{user}:{quote(password, safe='')}@127.0.0.1:6379/0"
    parsed = parse_redis_url(url)
    assert parsed.password == password
    for shown in (parsed.redacted, redact_url(url), parsed.redactor()(f"error at {url} with {password}")):
        assert password not in shown and quote(password, safe="") not in shown


@FAST
@given(st.text(alphabet="abcXYZ019#/?[]@!", min_size=6, max_size=20))
def test_an_unencoded_password_never_shows(password: str) -> None:
    """Not encoded at all (a common mistake): valid or not, nothing prints the password."""
    assume(password.count("@") == 0 and len(set(password) & set("abcXYZ019")) >= 4)
    url = f"redis://:{password}@127.0.0.1:6379/0"
    try:
        shown = parse_redis_url(url).redacted
    except UsageError as exc:
        shown = exc.one_line()
    assert password not in shown and password not in redact_url(url)
