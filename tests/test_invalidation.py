"""Invalidation on the real server: exactly the target's keys go, whatever lives next to them."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmcache_cli import invalidation as inv
from llmcache_cli.client import ClientOptions, RedisHandle, connect
from llmcache_cli.envelope import encode_envelope
from llmcache_cli.errors import PartialFailure, PermissionDenied, ServerError, UsageError
from llmcache_cli.invalidation.deletion import deletion_failed
from llmcache_cli.keys import symbol_index_key
from tests.support.servers import RedisServer

pytestmark = pytest.mark.redis

STRING_KEYS = {
    "analysis:stock:AAPL:v1": encode_envelope({"view": "buy"}, {"cost_usd": 0.25, "model": "m"}),
    "analysis:stock:AAPL": encode_envelope([], {"cost_usd": 0.5}),
    "sentiment:stock:{AAPL}:v1": encode_envelope(0, {"cost_usd": 0.125}),
    "technical:stock:AAPL:1a2b3c4d:v2": b'{"plain": "json, no envelope"}',
    "chatbot:stock:AAPL:model:claude-3-5": b"not json at all",
    "earnings:stock:AAPL:478292": b"\xff\xfe binary",
}
OTHER_TYPE_KEYS = {
    "fundamental:stock:AAPL:h": "hash",
    "earnings:stock:AAPL:l": "list",
    "market:stock:AAPL:s": "set",
    "historical:stock:AAPL:z": "zset",
    "analysis:stock:{AAPL}:x": "stream",
}
AAPL = set(STRING_KEYS) | set(OTHER_TYPE_KEYS)
NEIGHBOURS = [
    "analysis:stock:AAPLX:v1",
    "analysis:stock:aapl:v1",
    "analysis:stock:AAPL.X:v1",
    "analysis:stock:XAAPL:v1",
    "analysis:stock:{AAPLX}:v1",
    "analysis:stock:AAPL :v1",
    "analysis:stock:{AAPL:v1",
    "analysis:stock:{AAPL}}:v1",
    "analysis:stock:AAPL*:v1",
    "analysis:stock:A*:v1",
    "analysis:stock:*:v1",
    "analysis:stock:AAP?:v1",
    "analysis:stock:[AAPL]:v1",
    "analysis:stock:AAP[L]:v1",
    "analysis:stock:A\\APL:v1",
    "analysis:news:AAPL:v1",
    "analysis:equity:AAPL:v1",
    "AAPL:stock:MSFT:v1",
    "analysis:stock:MSFT:AAPL",
    "analysis:stock:MSFT:v1:AAPL",
    "stock:AAPL",
    "AAPL",
    "analysis::AAPL:v1",
    "llmcache:stats:analysis",
    "llmcache:lock:analysis:stock:AAPL:v1",
]
BINARY_NEIGHBOURS = [b"analysis:stock:AAPL\xff:v1", b"analysis:stock:\xffAAPL:v1"]
TYPED_NEIGHBOURS = {"fundamental:stock:AAPLX:h": "hash", "sentiment:news:AAPL:l": "list"}


def write(client: redis.Redis, key: str | bytes, kind: str = "string", value: bytes = b"1") -> None:
    if kind == "string":
        client.set(key, value)
    elif kind == "hash":
        client.hset(key, mapping={"a": "1", "b": "x" * 100})
    elif kind == "list":
        client.rpush(key, "a", "b", "c")
    elif kind == "set":
        client.sadd(key, "a", "b")
    elif kind == "zset":
        client.zadd(key, {"a": 1.0, "b": 2.0})
    elif kind == "stream":
        client.xadd(key, {"f": "v"})


def populate(client: redis.Redis) -> set[bytes]:
    for key, value in STRING_KEYS.items():
        write(client, key, value=value)
    for key, kind in {**OTHER_TYPE_KEYS, **TYPED_NEIGHBOURS}.items():
        write(client, key, kind)
    for other in [*NEIGHBOURS, *BINARY_NEIGHBOURS]:
        write(client, other)
    return set(client.scan_iter(count=1000))


def keyspace(client: redis.Redis) -> set[bytes]:
    return set(client.scan_iter(count=1000))


def enc(keys: set[str]) -> set[bytes]:
    return {k.encode() for k in keys}


def invalidate(
    handle: RedisHandle, targets: tuple[inv.Target, ...], delete: bool = True, **kwargs: object
) -> inv.Invalidation:
    use_index = bool(kwargs.pop("use_index", True))
    return inv.run(handle, inv.plan(handle, targets, use_index), delete=delete, **kwargs)  # type: ignore[arg-type]


def symbols(*names: str, entities: tuple[str, ...] = ("stock",), **kw: object) -> tuple[inv.Target, ...]:
    return inv.symbol_targets(names, entities, **kw)  # type: ignore[arg-type]


def test_invalidate_removes_exactly_the_symbols_keys(real_redis: redis.Redis, handle: RedisHandle) -> None:
    before = populate(real_redis)
    result = invalidate(handle, symbols("AAPL"), count=7)
    assert keyspace(real_redis) == before - enc(AAPL)
    assert (result.matched, result.deleted, result.dry_run, result.method) == (
        len(AAPL),
        len(AAPL),
        False,
        "scan",
    )


def test_dry_run_deletes_nothing_and_reports_the_same_figures(
    real_redis: redis.Redis, handle: RedisHandle
) -> None:
    before = populate(real_redis)
    preview = invalidate(handle, symbols("AAPL"), delete=False)
    assert keyspace(real_redis) == before
    assert preview.dry_run and preview.deleted == 0 and preview.matched == len(AAPL)
    assert preview.memory_bytes == sum(real_redis.memory_usage(k) or 0 for k in AAPL)
    assert preview.regen_cost_usd == pytest.approx(0.875)  # envelopes only; others cost nothing known
    assert set(preview.sample_keys) <= AAPL and len(preview.sample_keys) == 10
    done = invalidate(handle, symbols("AAPL"))
    assert (done.matched, done.memory_bytes, done.regen_cost_usd) == (
        preview.matched,
        preview.memory_bytes,
        preview.regen_cost_usd,
    )


@pytest.mark.parametrize("symbol", ["A*", "*", "AAP?", "[AAPL]", "AAP[L]", "A\\APL", "AAPL.X", "aapl"])
def test_glob_characters_in_a_symbol_are_plain_text(
    real_redis: redis.Redis, handle: RedisHandle, symbol: str
) -> None:
    before = populate(real_redis)
    result = invalidate(handle, symbols(symbol))
    assert result.deleted == 1
    assert keyspace(real_redis) == before - {f"analysis:stock:{symbol}:v1".encode()}


def test_several_symbols_and_entities(real_redis: redis.Redis, handle: RedisHandle) -> None:
    before = populate(real_redis)
    result = invalidate(handle, symbols("AAPL", "AAPLX", "AAPL", entities=("stock", "equity")))
    gone = enc(AAPL) | {
        b"analysis:equity:AAPL:v1",
        b"analysis:stock:AAPLX:v1",
        b"analysis:stock:{AAPLX}:v1",
        b"fundamental:stock:AAPLX:h",
    }
    assert keyspace(real_redis) == before - gone
    assert [t.target.label for t in result.targets] == ["AAPL", "AAPLX"]
    assert [t.deleted for t in result.targets] == [len(AAPL) + 1, 3]


@pytest.mark.parametrize(
    ("types", "event", "kept_types"),
    [
        ((), "earnings", {"sentiment", "technical", "market", "historical"}),
        ((), "news", {"analysis", "chatbot", "technical", "fundamental", "earnings", "market", "historical"}),
        (
            ("technical",),
            None,
            {"analysis", "chatbot", "sentiment", "fundamental", "earnings", "market", "historical"},
        ),
        (("analysis", "market"), None, {"sentiment", "technical", "fundamental", "earnings", "historical"}),
    ],
)
def test_type_and_event_filters(
    real_redis: redis.Redis,
    handle: RedisHandle,
    types: tuple[str, ...],
    event: str | None,
    kept_types: set[str],
) -> None:
    before = populate(real_redis)
    data_types = inv.data_type_filter(types, event)
    invalidate(handle, symbols("AAPL", data_types=data_types))
    gone = {k for k in AAPL if k.split(":")[0] not in kept_types}
    assert gone and keyspace(real_redis) == before - enc(gone)


def test_bad_filters_and_symbols_are_usage_errors() -> None:
    for call in (
        lambda: inv.data_type_filter(("bogus",)),
        lambda: inv.data_type_filter((), "split"),
        lambda: inv.data_type_filter(("technical",), "news"),
        lambda: symbols("A:B"),
        lambda: symbols("{AAPL}"),
        lambda: symbols(""),
        lambda: inv.symbol_targets([], {"stock"}),
        lambda: inv.version_target("a:b"),
        lambda: inv.version_target(""),
        lambda: inv.version_target("v1", "a:b"),
    ):
        with pytest.raises(UsageError):
            call()


@pytest.mark.parametrize("glob", ["*", "", "**", "?*", "*?*"])
def test_a_catch_all_pattern_needs_all(glob: str) -> None:
    with pytest.raises(UsageError, match="every key"):
        inv.pattern_target(glob)
    assert inv.pattern_target(glob, allow_all=True).patterns == (glob or "*",)


def test_pattern_is_a_raw_glob_but_never_touches_bookkeeping(
    real_redis: redis.Redis, handle: RedisHandle
) -> None:
    before = populate(real_redis)
    invalidate(handle, (inv.pattern_target("analysis:stock:AAPL*"),))
    raw = {k for k in before if k.startswith(b"analysis:stock:AAPL")}
    assert b"analysis:stock:AAPLX:v1" in raw
    assert keyspace(real_redis) == before - raw
    result = invalidate(handle, (inv.pattern_target("*", allow_all=True),))
    assert keyspace(real_redis) == {b"llmcache:stats:analysis", b"llmcache:lock:analysis:stock:AAPL:v1"}
    assert result.deleted == len(before - raw) - 2


def test_pattern_with_a_type_filter(real_redis: redis.Redis, handle: RedisHandle) -> None:
    before = populate(real_redis)
    invalidate(handle, (inv.pattern_target("*:stock:*AAPL*", frozenset({"sentiment"})),))
    assert keyspace(real_redis) == before - {b"sentiment:stock:{AAPL}:v1"}


def test_purge_version(real_redis: redis.Redis, handle: RedisHandle) -> None:
    keys = {
        "analysis:stock:AAPL:v1": True,
        "sentiment:news:abc123:v1": True,
        "analysis:stock:AAPL:model:claude:v1": True,
        "technical:stock:{MSFT}:v1": True,
        "analysis:stock:AAPL:v1:v2": False,  # its version is the last one: v2
        "analysis:stock:AAPL:v10": False,
        "analysis:stock:AAPL:v2": False,
        "analysis:v1": False,
        "v1": False,
        "llmcache:index:stock:{v1}:v1": False,
    }
    for key in keys:
        real_redis.set(key, 1)
    result = invalidate(handle, (inv.version_target("v1", "analysis"),))
    assert result.deleted == 2
    invalidate(handle, (inv.version_target("v1"),))
    assert keyspace(real_redis) == enc({k for k, old in keys.items() if not old})


def test_preview_then_delete_removes_exactly_what_was_shown(
    real_redis: redis.Redis, handle: RedisHandle
) -> None:
    before = populate(real_redis)
    preview = invalidate(handle, symbols("AAPL"), delete=False, keep_keys=True)
    real_redis.set("analysis:stock:AAPL:written-after-the-preview", 1)
    real_redis.delete("analysis:stock:AAPL:v1")  # vanished meanwhile: skipped, not an error
    done = inv.delete_previewed(handle, preview)
    assert (done.matched, done.deleted, done.dry_run) == (len(AAPL), len(AAPL) - 1, False)
    assert keyspace(real_redis) == before - enc(AAPL) | {b"analysis:stock:AAPL:written-after-the-preview"}


def commandstats(client: redis.Redis) -> dict[str, int]:
    return {name: int(v["calls"]) for name, v in client.info("commandstats").items()}


def test_index_is_used_but_never_trusted_alone(real_redis: redis.Redis, handle: RedisHandle) -> None:
    before = populate(real_redis)
    index = symbol_index_key("AAPL")
    indexed = sorted(AAPL - {"fundamental:stock:AAPL:h"})  # written by other code: not in the index
    junk = ["analysis:stock:AAPLX:v1", "analysis:stock:AAPL:expired-long-ago", "llmcache:stats:analysis"]
    real_redis.sadd(index, *indexed, *junk)
    real_redis.config_resetstat()
    result = invalidate(handle, symbols("AAPL"))
    assert result.method == "index" and result.targets[0].examined == len(indexed) + len(junk)
    assert result.deleted == result.matched == len(indexed)
    assert "cmdstat_scan" not in commandstats(real_redis)  # no pass over the keyspace
    assert keyspace(real_redis) == (before - enc(set(indexed))) | {index.encode()}
    # deleted and vanished members leave the index; members of other symbols are not touched
    assert real_redis.smembers(index) == {b"analysis:stock:AAPLX:v1", b"llmcache:stats:analysis"}
    # --scan (use_index=False) finds what the index never knew about
    rest = invalidate(handle, symbols("AAPL"), use_index=False)
    assert rest.method == "scan" and rest.deleted == 1
    assert keyspace(real_redis) == (before - enc(AAPL)) | {index.encode()}


def test_index_dry_run_and_an_index_that_is_not_a_set(real_redis: redis.Redis, handle: RedisHandle) -> None:
    before = populate(real_redis)
    real_redis.sadd(symbol_index_key("AAPL"), *AAPL)
    preview = invalidate(handle, symbols("AAPL"), delete=False)
    assert preview.method == "index" and preview.matched == len(AAPL) and preview.deleted == 0
    assert real_redis.scard(symbol_index_key("AAPL")) == len(AAPL)
    real_redis.delete(symbol_index_key("AAPL"))
    real_redis.set(symbol_index_key("AAPL"), "not a set")
    result = invalidate(handle, symbols("AAPL"))
    assert result.method == "scan" and result.deleted == len(AAPL)
    assert keyspace(real_redis) == before - enc(AAPL) | {symbol_index_key("AAPL").encode()}


def test_scan_path_keeps_an_existing_index_in_step(real_redis: redis.Redis, handle: RedisHandle) -> None:
    populate(real_redis)
    real_redis.sadd(symbol_index_key("AAPL"), "analysis:stock:AAPL:v1", "analysis:stock:AAPLX:v1")
    invalidate(handle, symbols("AAPL"), use_index=False)
    assert real_redis.smembers(symbol_index_key("AAPL")) == {b"analysis:stock:AAPLX:v1"}


def test_unlink_is_grouped_by_slot_in_a_cluster() -> None:
    keys = [b"a:stock:{AAPL}:1", b"b:stock:{AAPL}:2", b"a:stock:MSFT:1", b"x"]
    assert inv.unlink_groups(keys, cluster=False) == [keys]
    groups = inv.unlink_groups(keys, cluster=True)
    assert sorted(map(len, groups)) == [1, 1, 2] and sorted(k for g in groups for k in g) == sorted(keys)
    assert [b"a:stock:{AAPL}:1", b"b:stock:{AAPL}:2"] in groups


def interrupt_on_call(n: int):  # type: ignore[no-untyped-def]
    calls: list[int] = []

    def progress(step: int) -> None:
        calls.append(step)
        if len(calls) == n:
            raise KeyboardInterrupt

    return progress


def test_ctrl_c_keeps_what_was_gathered_or_says_what_was_deleted(
    real_redis: redis.Redis, handle: RedisHandle
) -> None:
    populate(real_redis)
    preview = invalidate(handle, symbols("AAPL"), delete=False, count=5, on_progress=interrupt_on_call(2))
    assert not preview.complete and preview.matched < len(AAPL)
    with pytest.raises(inv.InvalidationInterrupted) as info:
        invalidate(handle, symbols("AAPL"), count=5, on_progress=interrupt_on_call(4))
    assert info.value.exit_code == 130 and info.value.message.startswith("interrupted: deleted ")
    left = {k for k in keyspace(real_redis) if k.decode("utf-8", "replace") in AAPL}
    assert len(left) == len(AAPL) - info.value.done


def fill_many(client: redis.Redis, symbol: str, n: int) -> None:
    pipe = client.pipeline(transaction=False)
    for i in range(n):
        pipe.set(f"analysis:stock:{symbol}:{i}", "x")
        pipe.set(f"analysis:stock:{symbol}X:{i}", "x")
    pipe.execute()


def test_server_failure_half_way_reports_done_and_a_rerun_finishes(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "failing").start()
    admin = server.admin()
    try:
        fill_many(admin, "AAPL", 2000)
        before = keyspace(admin)
        calls = []

        def pause_writes(n: int) -> None:
            calls.append(n)
            if len(calls) == 4:  # after a few batches have been deleted
                admin.execute_command("CLIENT", "PAUSE", 3000, "WRITE")

        options = ClientOptions.from_flags(server.url, timeout=0.5)
        with connect(options) as h, pytest.raises(PartialFailure) as info:
            invalidate(h, symbols("AAPL"), count=200, on_progress=pause_writes)
        admin.execute_command("CLIENT", "UNPAUSE")
        done = info.value.done
        assert 0 < done < 2000
        assert f"deleted {done} of" in info.value.message and "server failed" in info.value.message
        assert "rerun" in (info.value.hint or "")
        assert info.value.exit_code == 1
        # What was said is what is known deleted. Redis 6.2 may still run the batch whose reply
        # timed out once the pause lifts (7.0+ and Valkey drop it with the closed connection).
        gone = 4000 - len(keyspace(admin))
        assert done <= gone <= done + 200
        with connect(options) as h:
            rerun = invalidate(h, symbols("AAPL"))
        assert rerun.deleted == 2000 - gone
        assert keyspace(admin) == {k for k in before if b":AAPLX:" in k}
    finally:
        admin.close()
        server.stop()


def test_progress_adds_up_to_the_planned_work(real_redis: redis.Redis, handle: RedisHandle) -> None:
    populate(real_redis)
    seen: list[int] = []
    planned = inv.plan(handle, symbols("AAPL", "MSFT"))
    inv.run(handle, planned, delete=False, count=3, on_progress=seen.append)
    assert sum(seen) == planned.work == 2 * len(keyspace(real_redis))


# ---------------------------------------------------------------------------------------------
# Property: over random symbols and keyspaces, exactly the target's keys go.

SYMBOL_CHARS = "AaPLX.*?[]\\-é"
symbol_text = st.text(alphabet=SYMBOL_CHARS, min_size=1, max_size=4)
key_spec = st.tuples(
    st.sampled_from(["analysis", "sentiment", "technical", "chatbot", "llmcache"]),
    st.sampled_from(["stock", "stock", "news"]),
    st.integers(0, 7),  # which symbol of the pool
    st.booleans(),  # hash-tagged
    st.lists(st.sampled_from(["v1", "v2", "abc", "model", "x*y", "AAPL"]), max_size=2),
    st.sampled_from(["string", "string", "hash", "list"]),
)


def owner(key: str, target: str) -> bool:
    """An independent statement of the rule: stock entity, third segment is the symbol or {symbol}."""
    parts = key.split(":")
    return (
        not key.startswith("llmcache:")
        and len(parts) >= 3
        and parts[0] != ""
        and parts[1] == "stock"
        and parts[2] in (target, "{" + target + "}")
    )


def write_specs(
    client: redis.Redis, pool: list[str], pick: int, specs: list[tuple[str, str, int, bool, list[str], str]]
) -> str:
    """Write the keys of ``key_spec``s, their symbols drawn from ``pool`` plus neighbours of the
    target ``pool[pick]`` (other case, a suffix, a prefix, the same text elsewhere); the target."""
    target = pool[pick % len(pool)]
    pool = [*pool, target.swapcase(), target + "X", "X" + target, target + ".X"]
    for namespace, entity, which, tagged, qualifiers, kind in specs:
        symbol = pool[which % len(pool)]
        ident = "{" + symbol + "}" if tagged else symbol
        key = ":".join([namespace, entity, ident, *qualifiers])
        client.delete(key)  # the same key may come up twice, with another type
        write(client, key, kind)
    return target


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    pool=st.lists(symbol_text, min_size=1, max_size=8, unique=True),
    specs=st.lists(key_spec, min_size=1, max_size=30),
    pick=st.integers(0, 7),
    dry_first=st.booleans(),
)
def test_property_exactly_the_targets_keys_go(
    real_redis: redis.Redis,
    handle: RedisHandle,
    pool: list[str],
    specs: list[tuple[str, str, int, bool, list[str], str]],
    pick: int,
    dry_first: bool,
) -> None:
    real_redis.flushdb()
    target = write_specs(real_redis, pool, pick, specs)
    real_redis.set(f"analysis:news:{target}:v1", 1)
    before = keyspace(real_redis)
    expected = {k for k in before if owner(k.decode(), target)}
    if dry_first:
        preview = invalidate(handle, symbols(target), delete=False)
        assert preview.matched == len(expected) and keyspace(real_redis) == before
    result = invalidate(handle, symbols(target), count=4)
    assert keyspace(real_redis) == before - expected
    assert result.matched == result.deleted == len(expected)


def test_concurrent_writers_do_not_break_a_deletion(real_redis: redis.Redis, handle: RedisHandle) -> None:
    fill_many(real_redis, "AAPL", 1500)
    stop = threading.Event()

    def writer() -> None:
        client = redis.Redis.from_url(handle.url.url)
        i = 0
        while not stop.is_set():
            client.set(f"analysis:stock:MSFT:{i}", 1)
            client.delete(f"analysis:stock:AAPL:{i % 1500}")  # vanishing keys mid-scan
            i += 1
        client.close()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        invalidate(handle, symbols("AAPL"), count=50)
    finally:
        stop.set()
        thread.join()
    assert not any(k.startswith(b"analysis:stock:AAPL:") for k in keyspace(real_redis))
    assert sum(1 for k in keyspace(real_redis) if k.startswith(b"analysis:stock:AAPLX:")) == 1500


def test_a_refused_deletion_is_a_permission_problem_not_a_server_failure() -> None:
    """Rerunning as the same user would be refused again: the line says so, and names the
    user and the command (both in the translated error's message)."""
    denied = PermissionDenied(
        "permission denied for ACL user 'ro' at redis://ro:***@h:6379/0: "
        "no permissions to run the 'unlink' command",
        hint="the ACL user lacks a command llmcache needs; see the README's ACL section",
    )
    line = deletion_failed(3, "the 40 previewed keys", denied).one_line()
    assert line.startswith("deleted 3 of the 40 previewed keys, then the server refused: permission denied")
    assert "'ro'" in line and "'unlink'" in line and "rerun as a user allowed to delete" in line
    assert "server failed" not in line and "rerun the same command" not in line
    failed = deletion_failed(
        3, "the 40 previewed keys", ServerError("Redis did not answer", hint="is it up?")
    )
    assert "before the server failed" in failed.message and failed.done == 3
    assert failed.hint is not None and failed.hint.startswith("is it up?; then rerun the same command")
