"""get KEY: envelopes, plain JSON, text, binary and every collection type, bounded."""

from __future__ import annotations

import pytest
import redis

from llmcache_cli.cli.render.entry_view import as_json
from llmcache_cli.client import RedisHandle
from llmcache_cli.diagnostics.entry_inspect import MAX_STRING_BYTES, read_entry
from llmcache_cli.errors import LLMCacheError
from tests.diagnostics.mixed import Mixed

pytestmark = pytest.mark.redis


def test_envelope(handle: RedisHandle, mixed: Mixed, real_redis: redis.Redis) -> None:
    view = read_entry(handle, "analysis:stock:AAPL:v1")
    assert view.kind == "envelope" and view.type == "string"
    assert view.value["score"] == 0.5 and view.meta is not None and view.cost_usd == 0.02
    assert view.memory_bytes == real_redis.memory_usage("analysis:stock:AAPL:v1")
    assert 2990 <= (view.ttl_seconds or 0) <= 3000
    assert (view.namespace, view.data_type, view.symbol) == ("analysis", "analysis", "AAPL")
    assert as_json(view)["ttl"] == view.ttl_seconds


@pytest.mark.parametrize(
    ("key", "kind", "value"),
    [
        ("plain:json:doc", "json", {"a": [1, 2, 3]}),
        ("plain:text:doc", "text", "not json at all"),
        ("plain:binary:doc", "binary", "\\xff\\xfe\x00binary"),
    ],
)
def test_strings_that_are_not_envelopes(
    handle: RedisHandle, mixed: Mixed, key: str, kind: str, value: object
) -> None:
    view = read_entry(handle, key)
    assert (view.kind, view.value, view.meta, view.cost_usd) == (kind, value, None, None)


def test_collections(handle: RedisHandle, mixed: Mixed) -> None:
    assert read_entry(handle, "h:stock:AAPL").value == {"f1": "v1", "f2": "x" * 300}
    assert read_entry(handle, "l:stock:AAPL").value == ["a", "b", "c"]
    assert read_entry(handle, "s:stock:MSFT").value == ["m1", "m2"]
    assert read_entry(handle, "z:stock:MSFT").value == [["m1", 1.0], ["m2", 2.5]]
    stream = read_entry(handle, "x:stock:MSFT")
    assert stream.length == 1 and stream.value[0]["fields"] == {"field": "value"}
    assert read_entry(handle, "l:stock:AAPL").ttl_seconds is None


def test_big_values_are_truncated(handle: RedisHandle, real_redis: redis.Redis) -> None:
    real_redis.rpush("big:list:x", *range(500))
    view = read_entry(handle, "big:list:x", max_items=10)
    assert view.value == [str(i) for i in range(10)] and view.length == 500 and view.truncated
    real_redis.hset("big:hash:x", mapping={f"f{i}": i for i in range(300)})
    hashed = read_entry(handle, "big:hash:x", max_items=20)
    assert len(hashed.value) == 20 and hashed.truncated and hashed.length == 300
    real_redis.set("big:string:x", b"a" * (MAX_STRING_BYTES + 10))
    text = read_entry(handle, "big:string:x")
    assert text.truncated and len(text.value) == MAX_STRING_BYTES and text.length == MAX_STRING_BYTES + 10


def test_missing_key_is_an_error_with_a_hint(handle: RedisHandle) -> None:
    with pytest.raises(LLMCacheError) as err:
        read_entry(handle, "analysis:stock:NOPE:v1")
    assert err.value.exit_code == 1 and "does not exist" in err.value.one_line()
