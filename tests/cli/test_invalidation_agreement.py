"""The library (``cache.invalidation``) and the CLI (``llmcache invalidate`` / ``purge-version``)
run one invalidation core: on the same keyspace, written by the library itself, every case
deletes the same keys, the ones an independent oracle names, and leaves every per-symbol index
set exactly equal to the keys a scan still finds for that symbol."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from llmcache_cli import CacheService, cached
from llmcache_cli.cache.invalidator import Invalidator
from llmcache_cli.cli import output
from llmcache_cli.config import DATA_TYPES, Settings
from llmcache_cli.keys import INTERNAL_PREFIX, ParsedKey, is_internal, parse_key, symbol_index_key
from tests.cache.conftest import run
from tests.cli.conftest import Invoke, json_of

pytestmark = pytest.mark.redis

SYMBOLS = ("AAPL", "AAPLX", "aapl", "MSFT", "AAP*")
TYPES = ("analysis", "fundamental", "earnings", "sentiment", "technical")
ENTITIES = frozenset({"stock", "equity"})


def write_as_the_bot(url: str, version: str, hash_tag: str = "never") -> None:
    """What a bot with ``[cache] version = <version>`` writes through ``@cached`` and ``set``."""

    async def go() -> None:
        settings = Settings(cache_version=version, stock_entities=ENTITIES, hash_tag=hash_tag)
        async with CacheService(url, settings=settings) as cache:
            for data_type in TYPES:

                @cached(ttl=600, data_type=data_type, cache=cache)
                async def ask(symbol: str, horizon: int = 1) -> dict[str, Any]:
                    return {"symbol": symbol, "horizon": horizon}

                for symbol in SYMBOLS:
                    await ask(symbol)
                    await ask(symbol, horizon=5)  # a second key with an input hash
            for symbol in ("AAPL", "MSFT"):  # another stock entity, and a hash-tagged key
                assert await cache.set(f"analysis:equity:{symbol}:{version}", {"x": 1}, ttl=600)
                assert await cache.set(f"technical:stock:{{{symbol}}}:{version}", {"x": 2}, ttl=600)
            assert await cache.set(f"macro:fn:rates:{version}", {"x": 3}, ttl=600)  # no symbol

    run(go())


def populate(client: Any, url: str, hash_tag: str = "never") -> set[bytes]:
    client.flushall()
    write_as_the_bot(url, "2024-06", hash_tag)
    write_as_the_bot(url, "v1", hash_tag)
    keys = entries(client)
    assert any(k.endswith(b":2024-06") for k in keys) and any(k.endswith(b":v1") for k in keys)
    return keys


def entries(client: Any) -> set[bytes]:
    return {k for k in client.scan_iter(count=1000) if not is_internal(k)}


def assert_index_exact(client: Any) -> None:
    """Each symbol's index set holds exactly the keys of that symbol a full scan finds."""
    expected: dict[bytes, set[bytes]] = {}
    for key in entries(client):
        parsed = parse_key(key)
        symbol = parsed.symbol(ENTITIES) if parsed else None
        if parsed and symbol:
            expected.setdefault(symbol_index_key(symbol, parsed.entity).encode(), set()).add(key)
    actual = {index: client.smembers(index) for index in client.scan_iter(match=f"{INTERNAL_PREFIX}index:*")}
    assert {k: v for k, v in actual.items() if v} == expected


Library = Callable[[Invalidator], Awaitable[Any]]


@dataclass(frozen=True)
class Case:
    name: str
    library: Library | None  # None: the CLI only (no library call selects by glob)
    argv: tuple[str, ...]
    oracle: Callable[[ParsedKey], bool]  # True: the key must go
    library_version: str = "v3"  # the current version of the library's service
    terminal: bool = False  # the CLI asks first, and deletes exactly the keys it showed


def _symbol(symbol: str, types: tuple[str, ...] | None = None) -> Callable[[ParsedKey], bool]:
    def go(p: ParsedKey) -> bool:
        return p.entity in ENTITIES and p.identifier == symbol and (types is None or p.data_type in types)

    return go


CASES = [
    Case("symbol", lambda i: i.invalidate_symbol("AAPL"), ("invalidate", "AAPL"), _symbol("AAPL")),
    Case(
        "symbol by scan",
        lambda i: i.invalidate_symbol("AAPL"),
        ("invalidate", "AAPL", "--scan"),
        _symbol("AAPL"),
    ),
    Case(
        "symbol, confirmed on a terminal",
        lambda i: i.invalidate_symbol("MSFT"),
        ("invalidate", "MSFT"),
        _symbol("MSFT"),
        terminal=True,
    ),
    Case(
        "earnings",
        lambda i: i.on_earnings("AAPL"),
        ("invalidate", "AAPL", "--event", "earnings"),
        _symbol("AAPL", ("analysis", "fundamental", "earnings")),
    ),
    Case(
        "news",
        lambda i: i.on_news("MSFT"),
        ("invalidate", "MSFT", "--event", "news"),
        _symbol("MSFT", ("sentiment",)),
    ),
    Case(
        "one data type",
        lambda i: i.invalidate_symbol("AAPL", ["technical"]),
        ("invalidate", "AAPL", "--type", "technical"),
        _symbol("AAPL", ("technical",)),
    ),
    Case("glob characters", lambda i: i.invalidate_symbol("AAP*"), ("invalidate", "AAP*"), _symbol("AAP*")),
    Case(
        "a version the config accepts",
        lambda i: i.purge_version("2024-06"),
        ("purge-version", "2024-06"),
        lambda p: p.version == "2024-06",
    ),
    Case(
        "a version in one namespace",
        lambda i: i.purge_version("v1", namespace="fundamental"),
        ("purge-version", "v1", "--namespace", "fundamental"),
        lambda p: p.version == "v1" and p.namespace == "fundamental",
    ),
    Case(
        "a raw glob", None, ("invalidate", "--pattern", "sentiment:*"), lambda p: p.namespace == "sentiment"
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_library_and_cli_delete_the_same_keys_and_keep_the_index_exact(
    cli: Invoke,
    redis_url: str,
    real_redis: redis.Redis,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    case: Case,
) -> None:
    before = populate(real_redis, redis_url)
    assert_index_exact(real_redis)
    gone = {k for k in before if case.oracle(parse_key(k))}  # type: ignore[arg-type]
    if case.library is not None:  # symbols and versions reach cache entries only (not macro:...)
        gone = {k for k in gone if parse_key(k).namespace in DATA_TYPES}  # type: ignore[union-attr]
    assert gone and gone != before

    if case.library is not None:
        library = case.library

        async def go() -> Any:
            settings = Settings(cache_version=case.library_version, stock_entities=ENTITIES)
            async with CacheService(redis_url, settings=settings) as cache:
                return await library(cache.invalidation)

        result = run(go())
        assert (result.matched, result.deleted, result.complete) == (len(gone), len(gone), True)
        assert entries(real_redis) == before - gone
        assert_index_exact(real_redis)
        populate(real_redis, redis_url)

    config = tmp_path / "config.toml"
    config.write_text('[cache]\nversion = "2024-06"\n[keys]\nstock_entities = ["stock", "equity"]\n')
    argv = ("--config", str(config), "--url", redis_url, *case.argv)
    if case.terminal:
        monkeypatch.setattr(output, "stdin_is_terminal", lambda: True)
        done = cli(*argv, input="y\n")
        assert done.exit_code == 0, done.output
        assert f"Delete these {len(gone)} keys?" in done.stderr
    else:
        data = json_of(cli(*argv, "--yes", "--json"))
        assert (data["matched"], data["deleted"]) == (len(gone), len(gone))
    assert entries(real_redis) == before - gone
    assert_index_exact(real_redis)


def test_purge_version_namespace_says_what_it_did(
    cli: Invoke, redis_url: str, real_redis: redis.Redis
) -> None:
    populate(real_redis, redis_url)
    human = cli("--url", redis_url, "purge-version", "v1", "--namespace", "fundamental", "--dry-run")
    assert human.exit_code == 0, human.output
    assert "namespace fundamental" in human.stdout and "all data types" not in human.stdout
    data = json_of(
        cli("--url", redis_url, "purge-version", "v1", "--namespace", "fundamental", "--json", "--dry-run")
    )
    assert data["namespace"] == "fundamental" and data["targets"][0]["kind"] == "version"
