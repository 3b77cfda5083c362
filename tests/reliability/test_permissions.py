"""ACL users against a real server (issue 8): the rules the README documents are
applied as written, and shown to be enough and no more.

- the read-only operator runs ``stats``, ``ttl``, ``large-keys``, ``get`` and ``policy``; its
  ``invalidate`` fails with a permission message, exit 1, and deletes nothing;
- the read-write operator also invalidates and purges;
- the bot's ``CacheService`` (decorator, locks, counters, index pruning, invalidation helpers)
  runs without a single refused command, and uses every command its rule grants;
- connecting leaves nothing in ``ACL LOG`` (redis-py's CLIENT SETINFO is not sent).

``make test-servers`` runs this module on Redis 6.2, Redis 7.0 and Valkey 8.1: ``ACL LOG`` stays
empty on each.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from llmcache_cli import CacheService, cached
from llmcache_cli.cache.redis_ops import INDEX_PRUNE_AT
from llmcache_cli.client import ClientOptions, async_client, connect
from llmcache_cli.config import Settings
from llmcache_cli.features import detect_features
from tests.cli.conftest import Invoke
from tests.reliability.conftest import (
    DELETING_COMMANDS,
    DELETING_IDS,
    ENVELOPE,
    assert_fails_cleanly,
    fill,
    keyspace,
)
from tests.support.servers import RedisServer

pytestmark = pytest.mark.redis

DOC = Path(__file__).resolve().parents[2] / "README.md"
PASSWORDS = {"llmcache-ro": "ro-Pw-1", "llmcache-rw": "rw-Pw-2", "llmcache-bot": "bot-Pw-3"}


def documented_rules() -> dict[str, list[str]]:
    """The ``ACL SETUSER`` lines of the README, as argument lists, by user name."""
    rules = {}
    for line in DOC.read_text().splitlines():
        if line.startswith("ACL SETUSER llmcache-"):
            words = line.split()
            rules[words[2]] = words[3:]
    assert set(rules) == set(PASSWORDS), f"the README must define {sorted(PASSWORDS)}"
    return rules


@pytest.fixture(scope="module")
def acl_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A server of its own (INFO commandstats must count this module's commands only), with
    the documented users created exactly as the docs write them."""
    server = RedisServer(tmp_path_factory.mktemp("acl")).start()
    admin = server.admin()
    eval_ro = detect_features(admin).has("eval_ro")
    for user, words in documented_rules().items():
        words = [re.sub(r"^>[A-Z]+-PASSWORD$", ">" + PASSWORDS[user], w) for w in words]
        if not eval_ro:  # Redis 6.2 has no EVAL_RO: the README says to leave it out there
            words = [w for w in words if w != "+eval_ro"]
        assert admin.execute_command("ACL", "SETUSER", user, *words) == b"OK"
    try:
        yield server
    finally:
        for user in PASSWORDS:
            admin.acl_deluser(user)
        server.stop()


@pytest.fixture
def acl(acl_server: RedisServer) -> Iterator[redis.Redis]:
    admin = acl_server.admin()
    admin.flushall()
    admin.acl_log_reset()
    admin.config_resetstat()
    yield admin
    admin.close()


def url_for(server: RedisServer, user: str) -> str:
    return f"redis://{user}:{PASSWORDS[user]}@127.0.0.1:{server.port}/0"


def refused(admin: redis.Redis) -> list[str]:
    """What the ACL refused since the fixture reset the log: ``user: command``."""
    return [f"{e['username']}: {e['object']}" for e in admin.acl_log()]


def populate(admin: redis.Redis) -> None:
    fill(admin, "analysis:stock:AAPL:", 30)
    fill(admin, "analysis:stock:AAPLX:", 30)
    fill(admin, "sentiment:stock:MSFT:", 10)
    admin.set("analysis:stock:MSFT:v1", ENVELOPE)
    admin.hset("llmcache:stats:analysis", mapping={"hits": 5, "misses": 2, "cost_saved_usd": 0.1})
    admin.sadd("llmcache:index:stock:{AAPL}", *[f"analysis:stock:AAPL:{i}" for i in range(1, 31)])
    admin.rpush("chat:list", "a", "b")
    admin.zadd("chat:zset", {"a": 1})
    admin.xadd("chat:stream", {"a": "1"})


READ_COMMANDS = [
    ["stats", "--json"],
    ["stats", "--full", "--json"],
    ["stats", "--full", "--in-server", "--json"],
    ["stats", "--format", "prometheus"],
    ["ttl", "--json"],
    ["ttl", "--in-server", "--json"],
    ["ttl", "--symbol", "AAPL", "--json"],
    ["large-keys", "--json"],
    ["get", "analysis:stock:MSFT:v1", "--json"],
    ["get", "llmcache:stats:analysis", "--json"],
    ["get", "chat:list", "--json"],
    ["get", "chat:zset", "--json"],
    ["get", "chat:stream", "--json"],
    ["get", "llmcache:index:stock:{AAPL}", "--json"],
    ["invalidate", "AAPL", "--dry-run", "--json"],
    ["purge-version", "v1", "--dry-run", "--json"],
    ["policy", "--json"],
]


@pytest.mark.parametrize("user", ["llmcache-ro", "llmcache-rw"])
def test_operators_can_run_every_read_command(
    cli: Invoke, acl_server: RedisServer, acl: redis.Redis, user: str
) -> None:
    """Both operator users run every read command (and the previews) with exit 0; the ACL
    refused nothing, not even a probe."""
    populate(acl)
    url = url_for(acl_server, user)
    for command in READ_COMMANDS:
        result = cli("--url", url, *command)
        assert result.exit_code == 0, (command, result.stderr)
    assert refused(acl) == []


@pytest.mark.parametrize("command", DELETING_COMMANDS, ids=DELETING_IDS)
def test_read_only_operator_cannot_delete(
    cli: Invoke, acl_server: RedisServer, acl: redis.Redis, command: list[str]
) -> None:
    """``invalidate`` as the read-only user: exit 1, one line saying permission denied and
    pointing at the ACL docs, no password in it, and not one key deleted."""
    populate(acl)
    acl.set("analysis:stock:AAPL:v1", ENVELOPE)
    before = keyspace(acl)
    result = cli("--url", url_for(acl_server, "llmcache-ro"), *command)
    line = assert_fails_cleanly(result, 1)
    assert "permission denied" in line and "ACL" in line and "deleted 0 " in line
    assert PASSWORDS["llmcache-ro"] not in result.stderr + result.stdout
    assert keyspace(acl) == before
    assert {e.split(": ")[1] for e in refused(acl)} <= {"unlink", "srem"}


def test_read_write_operator_deletes_exactly(cli: Invoke, acl_server: RedisServer, acl: redis.Redis) -> None:
    """The read-write user invalidates (through the index, then by scan) and purges: only the
    target keys go, and the ACL refused nothing."""
    populate(acl)
    acl.set("analysis:stock:AAPL:v1", ENVELOPE)
    # AAPL's entries go, and its index with them (an emptied set is deleted by Redis)
    keep = {k for k in keyspace(acl) if not k.startswith((b"analysis:stock:AAPL:", b"llmcache:index"))}
    url = url_for(acl_server, "llmcache-rw")
    first = cli("--url", url, "invalidate", "AAPL", "--yes", "--json")
    assert first.exit_code == 0, first.stderr
    assert json.loads(first.stdout)["deleted"] == 30  # the index's members (v1 is not in it)
    acl.set("analysis:stock:AAPL:v2", ENVELOPE)
    second = cli("--url", url, "invalidate", "AAPL", "--scan", "--yes", "--json")
    assert second.exit_code == 0 and json.loads(second.stdout)["deleted"] == 2
    assert set(keyspace(acl)) == keep
    purged = cli("--url", url, "purge-version", "v1", "--yes", "--json")
    assert purged.exit_code == 0 and json.loads(purged.stdout)["deleted"] == 1
    assert refused(acl) == []
    assert {"unlink", "srem"} <= set(commands_run(acl))


def commands_run(admin: redis.Redis) -> set[str]:
    """Every command the server ran since CONFIG RESETSTAT, scripts' own calls included."""
    return {name.removeprefix("cmdstat_") for name in admin.info("commandstats")}


class Analyst:
    def __init__(self, cache: CacheService) -> None:
        self.cache = cache

    @cached(ttl=600, data_type="technical")
    async def analyze(self, symbol: str) -> dict[str, Any]:
        await asyncio.sleep(0.01)
        return {"symbol": symbol}


async def bot_workload(url: str, admin: redis.Redis) -> None:
    """Everything the library does: decorated calls (single flight, lock, store, index, hit),
    the service's methods, index pruning, counters, the invalidation helpers."""
    async with CacheService(url, settings=Settings(), lock_wait=2) as cache:
        bot = Analyst(cache)
        await asyncio.gather(*(bot.analyze("AAPL") for _ in range(5)))
        await asyncio.gather(*(bot.analyze(s) for s in ("AAPL", "MSFT", "TSLA")))
        await cache.set("sentiment:stock:MSFT:v1", {"mood": "up"}, ttl=60, meta={"cost_usd": 0.01})
        assert await cache.get("sentiment:stock:MSFT:v1") == {"mood": "up"}
        assert await cache.get_many(["sentiment:stock:MSFT:v1", "nope"]) == {
            "sentiment:stock:MSFT:v1": {"mood": "up"}
        }
        assert await cache.exists("sentiment:stock:MSFT:v1")
        assert (await cache.get_ttl("sentiment:stock:MSFT:v1") or 0) > 0
        assert await cache.delete("sentiment:stock:MSFT:v1")
        await asyncio.gather(
            *(cache.set(f"analysis:stock:GME:{i}", i, ttl=60) for i in range(INDEX_PRUNE_AT + 5))
        )
        admin.unlink(*[f"analysis:stock:GME:{i}" for i in range(INDEX_PRUNE_AT)])  # "expired"
        await cache.set("analysis:stock:GME:last", 0, ttl=60)  # a store into a large index prunes it
        assert await cache.flush_counters()
        assert (await cache.invalidation.on_earnings("AAPL")).deleted >= 0
        await cache.invalidation.on_news("MSFT")
        await cache.invalidation.purge_version("v0")
    async with CacheService(url, settings=Settings(), cluster=False) as told:  # no detection: PING
        assert await told.get("analysis:stock:MSFT:v1", "miss") == "miss"


def test_bot_rule_is_enough_and_all_of_it_is_used(
    acl_server: RedisServer, acl: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    """The bot's documented rule: the whole library workload runs with no refused command and
    no warning, and every command the rule grants was run (so none is superfluous)."""
    caplog.set_level(logging.WARNING, logger="llmcache_cli")
    asyncio.run(bot_workload(url_for(acl_server, "llmcache-bot"), acl))
    assert refused(acl) == []
    assert [r.getMessage() for r in caplog.records] == []
    granted = {w[1:] for w in documented_rules()["llmcache-bot"] if w.startswith("+")}
    used = commands_run(acl) - {"hello", "auth", "config|resetstat", "acl|log", "config", "acl"}
    if not any("|" in name for name in used):  # Redis 6.2 counts SCRIPT LOAD as "script"
        granted = {name.split("|")[0] for name in granted}
    assert granted == used
    assert not acl.sismember("llmcache:index:stock:{GME}", "analysis:stock:GME:1")  # pruned


def test_bot_rule_cannot_touch_what_it_does_not_need(acl_server: RedisServer) -> None:
    """The bot cannot flush, read the config, list clients or block the server with KEYS."""
    bot = redis.Redis.from_url(url_for(acl_server, "llmcache-bot"))
    for command in (("FLUSHALL",), ("CONFIG", "GET", "maxmemory"), ("CLIENT", "LIST"), ("KEYS", "*")):
        with pytest.raises(redis.exceptions.NoPermissionError):
            bot.execute_command(*command)
    bot.close()


def test_permission_failure_is_not_called_a_server_failure(
    cli: Invoke, acl_server: RedisServer, acl: redis.Redis
) -> None:
    """The read-only user's invalidate: the line says permission, not that the server failed,
    and does not suggest that rerunning as the same user would finish the job."""
    populate(acl)
    result = cli("--url", url_for(acl_server, "llmcache-ro"), "invalidate", "AAPL", "--yes")
    line = assert_fails_cleanly(result, 1)
    assert "server failed" not in line and "rerun the same command" not in line


def test_connecting_leaves_nothing_in_the_acl_log(acl_server: RedisServer, acl: redis.Redis) -> None:
    """On every new connection redis-py would send CLIENT SETINFO and, with RESP3, CLIENT
    MAINT_NOTIFICATIONS, ignoring the refusal; Redis 6.2, 7.2+ and Valkey log each refusal as
    an ACL violation. llmcache's clients (the CLI's, the library's, sync and async) send
    neither: a user allowed only PING and INFO connects without a trace in ACL LOG."""
    acl.execute_command("ACL", "SETUSER", "llmcache-pinger", "reset", "on", ">ping-Pw-4", "+ping", "+info")
    url = f"redis://llmcache-pinger:ping-Pw-4@127.0.0.1:{acl_server.port}/0"
    try:
        with connect(ClientOptions.from_flags(url, 2.0)) as handle:  # PING, then INFO cluster
            assert not handle.is_cluster

        async def library() -> None:
            client = async_client(ClientOptions.from_flags(url, 2.0, cluster=False))
            assert await client.ping()
            await client.aclose()

        asyncio.run(library())
        assert refused(acl) == []
        assert "client" not in {name.split("|")[0] for name in commands_run(acl)}
    finally:
        acl.acl_deluser("llmcache-pinger")
