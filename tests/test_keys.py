from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from decimal import Decimal

import pytest
import pytz
import redis
from hypothesis import given
from hypothesis import strategies as st
from redis.crc import key_slot

from llmcache_cli.keys import (
    InvalidKeyPart,
    ParsedKey,
    build_key,
    canonical_json,
    data_hash_key,
    escape_glob,
    input_hash,
    key_bytes,
    key_has_symbol,
    key_text,
    parse_key,
    symbol_key,
    symbol_match_patterns,
    time_bucket_key,
)


def model_key(namespace: str, symbol: str, model: str, version: str | None = None) -> str:
    """The fourth key pattern, one entry per model; the library has no builder of its own for
    it (``build_key`` with a ``model`` qualifier), so the schema test spells it here."""
    extra = (version,) if version else ()
    return build_key(namespace, "stock", symbol, "model", model, *extra)


def test_four_patterns_and_version() -> None:
    at = pytz.timezone("America/New_York").localize(dt.datetime(2024, 7, 25, 12, 30))
    assert symbol_key("analysis", "AAPL") == "analysis:stock:AAPL:v1"
    assert symbol_key("analysis", "AAPL", "v2", hash_tag=True) == "analysis:stock:{AAPL}:v2"
    assert (
        data_hash_key("analysis", "AAPL", {"pe": 28.5}) == f"analysis:stock:AAPL:{input_hash({'pe': 28.5})}"
    )
    assert time_bucket_key("analysis", "AAPL", at) == f"analysis:stock:AAPL:{int(at.timestamp()) // 3600}"
    assert model_key("analysis", "AAPL", "claude-3-5") == "analysis:stock:AAPL:model:claude-3-5"
    assert model_key("analysis", "AAPL", "claude-3-5", "v3").endswith(":model:claude-3-5:v3")


def test_time_bucket_needs_aware_time() -> None:
    with pytest.raises(ValueError):
        time_bucket_key("analysis", "AAPL", dt.datetime(2024, 1, 1))


def test_parse_back() -> None:
    parsed = parse_key("technical:stock:{TSLA}:a1b2:v7")
    assert parsed is not None
    assert (parsed.namespace, parsed.entity, parsed.identifier) == ("technical", "stock", "TSLA")
    assert parsed.hash_tagged and parsed.qualifiers == ("a1b2", "v7") and parsed.version == "v7"
    assert parsed.data_type == "technical" and parsed.symbol() == "TSLA"
    other = parse_key(b"sentiment:news:abc123:v1")
    assert other is not None and other.symbol() is None and other.data_type == "sentiment"
    assert parse_key("chatbot:stock:AAPL").data_type == "analysis"  # type: ignore[union-attr]
    for bad in ("plain", "a:b", "a::c", b"\xff\xfe:stock:X", ":stock:AAPL"):
        assert parse_key(bad) is None


@pytest.mark.parametrize("bad", ["", "A:B", "new\nline", "{AAPL}"])
def test_bad_segments_refused(bad: str) -> None:
    with pytest.raises(InvalidKeyPart):
        symbol_key("analysis", bad)


segment = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=12).filter(
    lambda s: ":" not in s and not s.startswith("{") and not s.endswith("}")
)


@given(ns=segment, ent=segment, ident=segment, quals=st.lists(segment, max_size=3), tag=st.booleans())
def test_build_then_parse_round_trips(ns: str, ent: str, ident: str, quals: list[str], tag: bool) -> None:
    if tag and "}" in ident:  # Redis Cluster would end the tag inside the identifier
        with pytest.raises(InvalidKeyPart, match="hash tag"):
            build_key(ns, ent, ident, *quals, hash_tag=tag)
        return
    key = build_key(ns, ent, ident, *quals, hash_tag=tag)
    assert parse_key(key) == ParsedKey(ns, ent, ident, tuple(quals), tag)


def test_a_hash_tag_is_exactly_the_symbol() -> None:
    """Redis Cluster hashes the text from the key's first '{' to the first '}' after it: a '{'
    inside the symbol is part of the tag, a '}' would end it early, so it cannot be tagged."""
    key = build_key("analysis", "stock", "A{B", "v1", hash_tag=True)
    assert key == "analysis:stock:{A{B}:v1" and key_slot(key.encode()) == key_slot(b"A{B")
    parsed = parse_key(key)
    assert parsed is not None and (parsed.identifier, parsed.hash_tagged) == ("A{B", True)
    with pytest.raises(InvalidKeyPart, match="cannot be a cluster hash tag"):
        build_key("analysis", "stock", "A}B", "v1", hash_tag=True)
    assert parse_key("analysis:stock:{A}B}:v1") is None  # its tag would be "A"
    assert key_has_symbol(build_key("analysis", "stock", "A}B", "v1"), "A}B")  # untagged: fine


def test_key_bytes_gives_back_the_bytes_a_shell_typed() -> None:
    typed = b"raw:\xff\xfe".decode("utf-8", "surrogateescape")  # what sys.argv holds
    assert key_bytes(typed) == key_bytes(b"raw:\xff\xfe") == b"raw:\xff\xfe"
    assert key_bytes("analysis:stock:é") == "analysis:stock:é".encode()
    assert key_text(typed) == key_text(b"raw:\xff\xfe") == "raw:\\xff\\xfe"
    assert key_text("é") == "é" and key_text("a\ud800") == "a\\ud800"  # no shell makes that one


@pytest.mark.parametrize("typed", [b"\xff\xfe".decode("utf-8", "surrogateescape"), "A\ud800"])
def test_a_segment_must_be_utf8_text(typed: str) -> None:
    """No key of the schema can hold a symbol that is not UTF-8 (parse_key reads UTF-8)."""
    with pytest.raises(InvalidKeyPart, match="must be UTF-8 text"):
        symbol_key("analysis", typed)


def test_escape_glob() -> None:
    assert escape_glob("A*B?C[D]E\\F") == "A\\*B\\?C\\[D\\]E\\\\F"
    assert escape_glob("BRK.B") == "BRK.B"


def test_canonical_json_ignores_order_and_whitespace() -> None:
    a = {"b": [1, 2.0, {"y": 1, "x": 2}], "a": "é"}
    b = {"a": "é", "b": [1.0, 2, {"x": 2, "y": 1}]}
    assert canonical_json(a) == canonical_json(b) == '{"a":"é","b":[1,2,{"x":2,"y":1}]}'
    assert input_hash(a) == input_hash(b)
    assert input_hash({"p": Decimal("1.5"), "d": dt.date(2024, 1, 2)}) == input_hash(
        {"d": dt.date(2024, 1, 2), "p": Decimal("1.5")}
    )
    with pytest.raises(TypeError):
        input_hash({"x": object()})


def test_input_hash_is_the_same_in_another_process_with_another_hash_seed() -> None:
    data = {"symbol": "AAPL", "metrics": {"pe": 28.5, "growth": 0.08}, "tags": ["a", "b"]}
    code = (
        "import sys, json; from llmcache_cli.keys import input_hash; "
        "print(input_hash(json.loads(sys.argv[1])))"
    )
    outs = set()
    for seed in ("1", "2", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run(
            [sys.executable, "-c", code, json.dumps(data)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        outs.add(out)
    assert outs == {input_hash(data)}


def test_key_has_symbol_is_exact() -> None:
    assert key_has_symbol("analysis:stock:AAPL:v1", "AAPL")
    assert key_has_symbol("analysis:stock:{AAPL}:v1", "AAPL")
    assert key_has_symbol("analysis:stock:AAPL", "AAPL")
    for other in (
        "analysis:stock:AAPLX:v1",
        "analysis:stock:aapl:v1",
        "analysis:stock:AAPL.X:v1",
        "analysis:news:AAPL:v1",
        "analysis:stock:MSFT:AAPL",
        "AAPL:stock:MSFT:v1",
    ):
        assert not key_has_symbol(other, "AAPL"), other


@pytest.mark.redis
def test_symbol_patterns_find_every_key_and_treat_globs_as_text(real_redis: redis.Redis) -> None:
    symbols = ["AAPL", "AAPLX", "aapl", "AAPL.X", "A*", "A?PL", "[A]", "A\\B", "AA]PL"]
    for s in symbols:
        real_redis.set(symbol_key("analysis", s), 1)
        real_redis.set(symbol_key("sentiment", s, hash_tag=True), 1)
        real_redis.set(build_key("analysis", "news", s, "v1"), 1)
    for s in symbols:
        found = set()
        for pattern in symbol_match_patterns(s):
            found.update(k.decode() for k in real_redis.scan_iter(match=pattern, count=1000))
        exact = {k for k in found if key_has_symbol(k, s)}
        assert exact == {symbol_key("analysis", s), symbol_key("sentiment", s, hash_tag=True)}, s
