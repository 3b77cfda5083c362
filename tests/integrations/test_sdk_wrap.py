"""``wrap``: the real anthropic and openai SDKs, a mocked HTTP transport, a real redis-server."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from typing import Any

import pytest
import redis

from llmcache_cli import CacheService, wrap
from llmcache_cli.config import Settings
from tests.integrations.conftest import (
    ANTHROPIC_MESSAGE,
    OPENAI_COMPLETION,
    FakeAPI,
    anthropic,
    anthropic_client,
    json_response,
    openai,
    openai_client,
)

pytestmark = pytest.mark.redis

ASK = [{"role": "user", "content": "AAPL: buy, hold or sell?"}]
# The recorded responses priced by hand from the default price table:
# claude-sonnet-4-5 $3 / $15 per Mtok, cache reads at 0.1x input; gpt-4o $2.5 / $10, cached input 0.5x.
ANTHROPIC_COST = (412 * 3 + 2048 * 3 * 0.1 + 96 * 15) / 1e6
OPENAI_COST = ((1300 - 1024) * 2.5 + 1024 * 2.5 * 0.5 + 40 * 10) / 1e6


def run(coro: Any) -> Any:
    return asyncio.run(coro)


def counters(real_redis: redis.Redis, namespace: str) -> dict[str, float]:
    raw = real_redis.hgetall(f"llmcache:stats:{namespace}")
    return {k.decode(): float(v) for k, v in raw.items()}


def test_anthropic_miss_then_hit_returns_an_equal_message(
    redis_url: str, real_redis: redis.Redis, anthropic_api: FakeAPI
) -> None:
    async def go() -> tuple[Any, Any, CacheService]:
        async with CacheService(redis_url) as cache:
            client = wrap(anthropic_client(anthropic_api), cache)
            first = await client.messages.create(model="claude-sonnet-4-5", max_tokens=256, messages=ASK)
            second = await client.messages.create(model="claude-sonnet-4-5", max_tokens=256, messages=ASK)
            return first, second, cache

    first, second, cache = run(go())
    assert anthropic_api.calls == 1
    assert type(second) is anthropic.types.Message and second == first
    assert second.content[0].text == ANTHROPIC_MESSAGE["content"][0]["text"]
    assert first._request_id == "req_011CT"  # the caller that made the call gets the SDK's object
    stats = cache.stats
    assert (stats.hits, stats.misses) == (1, 1)
    assert stats.cost_with_cache_usd == pytest.approx(ANTHROPIC_COST, rel=1e-12)
    assert stats.savings_usd == pytest.approx(ANTHROPIC_COST, rel=1e-12)
    live = counters(real_redis, "analysis")
    assert live["hits"] == 1 and live["misses"] == 1
    assert live["cost_spent_usd"] == pytest.approx(ANTHROPIC_COST, rel=1e-9)
    assert live["cost_saved_usd"] == pytest.approx(ANTHROPIC_COST, rel=1e-9)
    (key,) = [k.decode() for k in real_redis.scan_iter("analysis:*")]
    assert key.startswith("analysis:fn:anthropic.messages:")
    entry = __import__("json").loads(real_redis.get(key))
    assert entry["meta"]["model"] == "claude-sonnet-4-5-20250929"
    assert entry["meta"]["input_tokens"] == 412 + 2048 and entry["meta"]["output_tokens"] == 96
    assert "usage_estimated" not in entry["meta"]


def test_openai_miss_then_hit_returns_an_equal_completion(
    redis_url: str, real_redis: redis.Redis, openai_api: FakeAPI
) -> None:
    async def go() -> tuple[Any, Any, CacheService]:
        async with CacheService(redis_url) as cache:
            client = wrap(openai_client(openai_api), cache, cache_data_type="sentiment")
            first = await client.chat.completions.create(model="gpt-4o", messages=ASK, temperature=0)
            second = await client.chat.completions.create(model="gpt-4o", messages=ASK, temperature=0)
            return first, second, cache

    first, second, cache = run(go())
    assert openai_api.calls == 1
    assert type(second) is openai.types.chat.ChatCompletion and second == first
    assert second.choices[0].message.content == "MSFT: buy."
    assert (cache.stats.hits, cache.stats.misses) == (1, 1)
    assert cache.stats.cost_with_cache_usd == pytest.approx(OPENAI_COST, rel=1e-12)
    live = counters(real_redis, "sentiment")
    assert live["cost_spent_usd"] == pytest.approx(OPENAI_COST, rel=1e-9)
    assert live["cost_saved_usd"] == pytest.approx(OPENAI_COST, rel=1e-9)
    (key,) = [k.decode() for k in real_redis.scan_iter("sentiment:*")]
    assert key.startswith("sentiment:fn:openai.chat.completions:")
    assert 0 < real_redis.ttl(key) <= Settings().ttl.by_type["sentiment"]


def test_argument_order_and_cache_options(
    redis_url: str, real_redis: redis.Redis, anthropic_api: FakeAPI
) -> None:
    reordered = [{"content": "AAPL: buy, hold or sell?", "role": "user"}]

    async def go() -> CacheService:
        async with CacheService(redis_url) as cache:
            client = wrap(anthropic_client(anthropic_api), cache, model="claude-sonnet-4-5")
            create = client.messages.create
            system = [{"type": "text", "text": "Be terse.", "cache_control": {"type": "ephemeral"}}]
            same = [{"cache_control": {"type": "ephemeral"}, "text": "Be terse.", "type": "text"}]
            await create(max_tokens=256, messages=ASK, system=system, cache_symbol="AAPL", cache_ttl=120)
            await create(system=same, messages=reordered, cache_ttl=120, cache_symbol="AAPL", max_tokens=256)
            assert anthropic_api.calls == 1  # same request, other order: a hit
            await create(max_tokens=256, messages=ASK, system=system, cache_symbol="AAPL", cache_bypass=True)
            assert anthropic_api.calls == 2
            await create(
                max_tokens=256,
                messages=ASK,
                system=system,
                cache_symbol="AAPL",
                cache_refresh=True,
                cache_ttl=90,
            )
            assert anthropic_api.calls == 3
            await create(max_tokens=256, messages=ASK, system="Be verbose.", cache_symbol="AAPL")
            assert anthropic_api.calls == 4  # another system prompt, another answer
            await create(max_tokens=256, messages=ASK, system=system, model="claude-haiku-4-5")
            assert anthropic_api.calls == 5  # the call's own model wins over the default
            return cache

    cache = run(go())
    for body in anthropic_api.bodies:
        assert not [k for k in body if k.startswith("cache_")]
    assert anthropic_api.bodies[0]["model"] == "claude-sonnet-4-5"
    assert anthropic_api.bodies[-1]["model"] == "claude-haiku-4-5"
    keys = sorted(k.decode() for k in real_redis.scan_iter("analysis:*"))
    symbol_keys = [k for k in keys if k.startswith("analysis:stock:AAPL:")]
    assert len(symbol_keys) == 2 and len(keys) == 3
    assert cache.stats.bypassed == 1
    ttls = sorted(real_redis.ttl(k) for k in symbol_keys)
    assert 80 < ttls[0] <= 90 < 120 < ttls[1]  # the refreshed entry's TTL; the policy's


def test_an_api_error_is_raised_and_not_stored(
    redis_url: str, real_redis: redis.Redis, openai_api: FakeAPI
) -> None:
    error = {"error": {"message": "Rate limit reached", "type": "rate_limit_error", "code": None}}
    answers = iter([json_response(error, 429), json_response(OPENAI_COMPLETION)])
    openai_api.answer = lambda body: next(answers)

    async def go() -> Any:
        async with CacheService(redis_url) as cache:
            client = wrap(openai_client(openai_api), cache)
            with pytest.raises(openai.RateLimitError):
                await client.chat.completions.create(model="gpt-4o", messages=ASK)
            assert not list(real_redis.scan_iter("analysis:*"))
            return await client.chat.completions.create(model="gpt-4o", messages=ASK)

    assert run(go()).id == OPENAI_COMPLETION["id"]
    assert openai_api.calls == 2
    assert len(list(real_redis.scan_iter("analysis:*"))) == 1


def test_stream_passes_through_uncached(redis_url: str, real_redis: redis.Redis) -> None:
    events = [
        ("message_start", {"type": "message_start", "message": {**ANTHROPIC_MESSAGE, "content": []}}),
        (
            "content_block_start",
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        ),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hold."}},
        ),
        ("content_block_stop", {"type": "content_block_stop", "index": 0}),
        ("message_stop", {"type": "message_stop"}),
    ]
    text = "".join(f"event: {name}\ndata: {__import__('json').dumps(data)}\n\n" for name, data in events)
    from tests.integrations.conftest import httpx

    api = FakeAPI(lambda body: httpx.Response(200, text=text, headers={"content-type": "text/event-stream"}))

    async def go() -> list[str]:
        async with CacheService(redis_url) as cache:
            client = wrap(anthropic_client(api), cache)
            seen = []
            for _ in range(2):
                stream = await client.messages.create(
                    model="claude-sonnet-4-5", max_tokens=64, messages=ASK, stream=True
                )
                seen += [e.type async for e in stream]
            assert cache.stats.requests == 0 and cache.stats.bypassed == 2
            return seen

    assert "content_block_delta" in run(go())
    assert api.calls == 2 and api.bodies[0]["stream"] is True
    assert not list(real_redis.scan_iter("analysis:*"))


def test_a_dead_redis_still_answers(silent_port: int, anthropic_api: FakeAPI) -> None:
    async def go() -> list[Any]:
        async with CacheService(f"redis://127.0.0.1:{silent_port}/0", timeout=0.2) as cache:
            client = wrap(anthropic_client(anthropic_api), cache)
            return [
                await client.messages.create(model="claude-sonnet-4-5", max_tokens=8, messages=ASK)
                for _ in range(2)
            ]

    answers = run(go())
    assert anthropic_api.calls == 2 and answers[0] == answers[1]


def test_bad_options_and_clients_are_refused(redis_url: str, anthropic_api: FakeAPI) -> None:
    async def go() -> None:
        async with CacheService(redis_url) as cache:
            client = wrap(anthropic_client(anthropic_api), cache)
            for bad in ({"cache_data_type": "gossip"}, {"cache_symbol": "AA:PL"}, {"cache_ttl": 0}):
                with pytest.raises(ValueError):
                    await client.messages.create(model="claude-sonnet-4-5", max_tokens=8, messages=ASK, **bad)
            with pytest.raises(TypeError, match="AsyncAnthropic"):
                wrap(anthropic.Anthropic(api_key="sk-test"), cache)
            with pytest.raises(ValueError):
                wrap(anthropic_client(anthropic_api), cache, cache_symbol="{AAPL}")

    run(go())
    assert anthropic_api.calls == 0


def test_the_rest_of_the_client_is_the_sdks(redis_url: str, anthropic_api: FakeAPI) -> None:
    async def go() -> None:
        async with CacheService(redis_url) as cache:
            raw = anthropic_client(anthropic_api)
            client = wrap(raw, cache)
            assert client.api_key == "sk-test" and client.models is raw.models
            assert client.messages.count_tokens == raw.messages.count_tokens
            async with client as same:  # the SDK's own context manager closes its HTTP client
                assert same is client
                await same.messages.create(model="claude-sonnet-4-5", max_tokens=8, messages=ASK)
            assert raw.is_closed()

    run(go())


def test_importing_the_package_does_not_import_the_sdks() -> None:
    code = (
        "import sys, llmcache_cli; llmcache_cli.wrap; llmcache_cli.CacheService; "
        "print(any(m in sys.modules for m in ('anthropic', 'openai', 'httpx2', 'httpx')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False"]


def test_concurrent_identical_requests_make_one_call(redis_url: str, openai_api: FakeAPI) -> None:
    async def go() -> list[Any]:
        async with CacheService(redis_url) as cache:
            client = wrap(openai_client(openai_api), cache)
            return await asyncio.gather(
                *(client.chat.completions.create(model="gpt-4o", messages=ASK) for _ in range(5))
            )

    answers = run(go())
    assert openai_api.calls == 1 and all(a == answers[0] for a in answers)
