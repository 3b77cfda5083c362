"""Invalidation on the real Redis Cluster: every primary, UNLINK by slot, the index in the
symbol's slot, and the same adversarial neighbours as on a single server, in both key forms."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TypeVar

import pytest
import redis.cluster
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.crc import key_slot

from llmcache_cli import invalidation as inv
from llmcache_cli.cli import output
from llmcache_cli.client import ClientOptions, RedisHandle, connect
from llmcache_cli.config import DATA_TYPES
from llmcache_cli.envelope import encode_envelope
from llmcache_cli.keys import symbol_index_key
from tests.cli.conftest import Invoke, json_of
from tests.cluster.conftest import command_calls, keys_by_primary, keyspace, reset_stats
from tests.support.cluster import RedisClusterProcs
from tests.test_invalidation import (
    AAPL,
    BINARY_NEIGHBOURS,
    NEIGHBOURS,
    OTHER_TYPE_KEYS,
    STRING_KEYS,
    TYPED_NEIGHBOURS,
    key_spec,
    owner,
    symbol_text,
    write,
    write_specs,
)

pytestmark = pytest.mark.cluster
T = TypeVar("T")


def tagged(key: str) -> str | None:
    """The hash-tagged form of a key (third segment wrapped in braces), if it has one."""
    parts = key.split(":")
    if len(parts) < 3 or parts[2].startswith("{"):
        return None
    parts[2] = "{" + parts[2] + "}"
    return ":".join(parts)


def both_forms(keys: dict[str, T]) -> dict[str, T]:
    out = dict(keys)
    for key, value in keys.items():
        other = tagged(key)
        if other is not None:
            out.setdefault(other, value)
    return out


STRINGS = both_forms(STRING_KEYS)
OTHER_TYPES = both_forms(OTHER_TYPE_KEYS)
PLAIN_NEIGHBOURS = both_forms(dict.fromkeys(NEIGHBOURS, ""))
TYPED = both_forms(TYPED_NEIGHBOURS)
# The bookkeeping of a hash-tagged entry lives in its slot too; it is never invalidated.
BOOKKEEPING = ["llmcache:lock:analysis:stock:{AAPL}:v1", "llmcache:stats:{AAPL}"]
TARGET = {k.encode() for k in [*STRINGS, *OTHER_TYPES] if owner(k, "AAPL")}
# The CLI reaches cache entries only: keys of namespaces that are no data type (chatbot:...) and
# not in [keys] namespaces are left alone unless a --pattern names them.
CLI_TARGET = {k for k in TARGET if k.split(b":")[0].decode() in DATA_TYPES}


def populate(client: redis.cluster.RedisCluster) -> set[bytes]:
    for key, value in STRINGS.items():
        write(client, key, value=value)
    for key, kind in {**OTHER_TYPES, **TYPED}.items():
        write(client, key, kind)
    for other in [*PLAIN_NEIGHBOURS, *BINARY_NEIGHBOURS, *BOOKKEEPING]:
        write(client, other)
    return keyspace(client)


@pytest.fixture
def handle(cluster_url: str) -> Iterator[RedisHandle]:
    with connect(ClientOptions.from_flags(cluster_url, 5.0)) as h:
        assert h.is_cluster and len(h.nodes) == 3
        yield h


def run(handle: RedisHandle, *symbols: str, delete: bool = True, **kwargs: object) -> inv.Invalidation:
    use_index = bool(kwargs.pop("use_index", True))
    targets = inv.symbol_targets(symbols, {"stock"})
    return inv.run(handle, inv.plan(handle, targets, use_index), delete=delete, **kwargs)  # type: ignore[arg-type]


def test_the_keyspace_is_spread_and_the_oracle_is_not_empty(
    cluster: redis.cluster.RedisCluster, redis_cluster_procs: RedisClusterProcs
) -> None:
    populate(cluster)
    plain = {k.encode() for k in AAPL}
    assert plain | {tagged(k).encode() for k in AAPL if tagged(k)} == TARGET  # type: ignore[union-attr]
    per_node = keys_by_primary(redis_cluster_procs)
    assert sum(1 for keys in per_node.values() if keys & plain) >= 2  # plain keys: several nodes
    tagged_slots = {key_slot(k) for k in TARGET if b"{AAPL}" in k}
    assert tagged_slots == {key_slot(b"{AAPL}")} == {key_slot(symbol_index_key("AAPL").encode())}


def test_invalidate_removes_exactly_the_symbols_keys_on_every_primary(
    cluster: redis.cluster.RedisCluster, handle: RedisHandle
) -> None:
    before = populate(cluster)
    result = run(handle, "AAPL", count=7)
    assert keyspace(cluster) == before - TARGET
    assert (result.matched, result.deleted, result.method) == (len(TARGET), len(TARGET), "scan")


def test_dry_run_then_delete_on_the_cluster(cluster: redis.cluster.RedisCluster, handle: RedisHandle) -> None:
    before = populate(cluster)
    preview = run(handle, "AAPL", delete=False, keep_keys=True)
    assert keyspace(cluster) == before and preview.matched == len(TARGET)
    assert preview.regen_cost_usd == pytest.approx(0.875 + 0.25 + 0.5)  # plain + new tagged forms
    assert {handle.nodes[i].name for i, _ in preview.targets[0].keys} == {n.name for n in handle.nodes}
    done = inv.delete_previewed(handle, preview)
    assert done.deleted == len(TARGET) and keyspace(cluster) == before - TARGET


@pytest.mark.parametrize("symbol", ["A*", "*", "AAP?", "[AAPL]", "A\\APL", "AAPL.X", "aapl"])
def test_glob_characters_in_a_symbol_are_plain_text(
    cluster: redis.cluster.RedisCluster, handle: RedisHandle, symbol: str
) -> None:
    before = populate(cluster)
    result = run(handle, symbol)
    gone = {f"analysis:stock:{symbol}:v1".encode(), f"analysis:stock:{{{symbol}}}:v1".encode()}
    assert result.deleted == 2 and keyspace(cluster) == before - gone


def test_many_keys_of_many_slots_are_unlinked_without_crossslot(
    cluster: redis.cluster.RedisCluster, handle: RedisHandle, redis_cluster_procs: RedisClusterProcs
) -> None:
    pipe = cluster.pipeline()
    for i in range(1500):
        pipe.set(f"analysis:stock:MSFT:{i}", 1)  # plain: spread over all slots
        pipe.set(f"technical:stock:{{MSFT}}:{i}", 1)  # tagged: one slot
        pipe.set(f"analysis:stock:MSFTX:{i}", 1)
    pipe.execute()
    reset_stats(redis_cluster_procs)
    result = run(handle, "MSFT", count=500)
    assert result.deleted == 3000
    assert keyspace(cluster) == {f"analysis:stock:MSFTX:{i}".encode() for i in range(1500)}
    # one UNLINK per slot and batch: the 1500 tagged keys go in a few calls, not one per key
    assert command_calls(redis_cluster_procs, "unlink") < 1500 + 50


# ---------------------------------------------------------------------------------------------
# The per-symbol index


def library_style_index(cluster: redis.cluster.RedisCluster, members: list[str]) -> None:
    cluster.sadd(symbol_index_key("AAPL"), *members)


def test_index_lives_in_the_symbols_slot_and_is_used_on_a_cluster(
    cluster: redis.cluster.RedisCluster, handle: RedisHandle, redis_cluster_procs: RedisClusterProcs
) -> None:
    before = populate(cluster)
    index = symbol_index_key("AAPL")
    # tagged entries share the index's slot; plain ones (written with hash_tag = "never") do not
    indexed = sorted(k.decode() for k in TARGET if k != b"fundamental:stock:AAPL:h")
    junk = ["analysis:stock:AAPLX:v1", "analysis:stock:{AAPLX}:v1", "analysis:stock:AAPL:gone"]
    library_style_index(cluster, [*indexed, *junk])
    reset_stats(redis_cluster_procs)
    result = run(handle, "AAPL")
    assert result.method == "index" and result.targets[0].examined == len(indexed) + len(junk)
    assert result.deleted == result.matched == len(indexed)
    assert command_calls(redis_cluster_procs, "scan") == 0  # no pass over any primary
    assert keyspace(cluster) == (before - {k.encode() for k in indexed}) | {index.encode()}
    # deleted keys left the index, wherever they lived; other symbols' members stay
    assert cluster.smembers(index) == {b"analysis:stock:AAPLX:v1", b"analysis:stock:{AAPLX}:v1"}
    rest = run(handle, "AAPL", use_index=False)  # --scan finds what the index never knew
    assert rest.method == "scan" and rest.deleted == 1
    assert keyspace(cluster) == (before - TARGET) | {index.encode()}


def test_scan_keeps_the_index_in_step_across_nodes(
    cluster: redis.cluster.RedisCluster, handle: RedisHandle
) -> None:
    populate(cluster)
    index = symbol_index_key("AAPL")
    library_style_index(
        cluster, ["analysis:stock:AAPL:v1", "sentiment:stock:{AAPL}:v1", "analysis:stock:AAPLX:v1"]
    )
    run(handle, "AAPL", use_index=False)
    assert cluster.smembers(index) == {b"analysis:stock:AAPLX:v1"}


def test_preview_by_index_then_delete_keeps_the_index_in_step(
    cluster: redis.cluster.RedisCluster, handle: RedisHandle
) -> None:
    populate(cluster)
    members = ["analysis:stock:AAPL:v1", "sentiment:stock:{AAPL}:v1", "analysis:stock:{AAPL}:v1"]
    library_style_index(cluster, [*members, "analysis:stock:MSFT:v1"])
    before = keyspace(cluster)
    preview = run(handle, "AAPL", delete=False, keep_keys=True)
    assert preview.method == "index" and preview.matched == 3 and keyspace(cluster) == before
    done = inv.delete_previewed(handle, preview)
    assert done.deleted == 3
    assert keyspace(cluster) == before - {m.encode() for m in members}
    assert cluster.smembers(symbol_index_key("AAPL")) == {b"analysis:stock:MSFT:v1"}


# ---------------------------------------------------------------------------------------------
# The commands


def test_cli_invalidate_yes_leaves_exactly_the_other_keys(
    cli: Invoke, cluster_url: str, cluster: redis.cluster.RedisCluster
) -> None:
    before = populate(cluster)
    data = json_of(cli("--url", cluster_url, "invalidate", "AAPL", "--yes", "--json"))
    assert (data["matched"], data["deleted"], data["complete"]) == (len(CLI_TARGET), len(CLI_TARGET), True)
    assert keyspace(cluster) == before - CLI_TARGET
    again = json_of(cli("--url", cluster_url, "invalidate", "AAPL", "--yes", "--json"))
    assert again["matched"] == 0 and keyspace(cluster) == before - CLI_TARGET


def test_cli_dry_run_and_confirmation_on_the_cluster(
    cli: Invoke, cluster_url: str, cluster: redis.cluster.RedisCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = populate(cluster)
    dry = json_of(cli("--url", cluster_url, "invalidate", "AAPL", "--dry-run", "--json"))
    assert dry["matched"] == len(CLI_TARGET) and dry["deleted"] == 0 and keyspace(cluster) == before
    monkeypatch.setattr(output, "stdin_is_terminal", lambda: True)
    accepted = cli("--url", cluster_url, "invalidate", "AAPL", "--json", input="y\n")
    assert accepted.exit_code == 0, accepted.output
    # CliRunner echoes the typed answer onto stdout; a real terminal shows it on the tty.
    assert json.loads(accepted.stdout[accepted.stdout.index("{") :])["deleted"] == len(CLI_TARGET)
    assert keyspace(cluster) == before - CLI_TARGET


def test_cli_purge_version_on_the_cluster(
    cli: Invoke, cluster_url: str, cluster: redis.cluster.RedisCluster
) -> None:
    old = {
        "analysis:stock:AAPL:v1",
        "analysis:stock:{AAPL}:v1",
        "sentiment:news:abc:v1",
        "technical:stock:{MSFT}:x:v1",
    }
    kept = {
        "analysis:stock:AAPL:v2",
        "analysis:stock:{AAPL}:v1:v2",
        "analysis:stock:AAPL:v10",
        "llmcache:index:stock:{v1}:v1",
    }
    for key in old | kept:
        cluster.set(key, encode_envelope(1, {"cost_usd": 0.01}))
    data = json_of(cli("--url", cluster_url, "purge-version", "v1", "--yes", "--json"))
    assert data["deleted"] == len(old)
    assert keyspace(cluster) == {k.encode() for k in kept}


def test_cli_no_cluster_flag_sees_one_node_only(
    cli: Invoke, cluster_url: str, cluster: redis.cluster.RedisCluster, redis_cluster_procs: RedisClusterProcs
) -> None:
    populate(cluster)
    url_node = int(cluster_url.rsplit(":", 1)[1].split("/")[0])
    on_that_node = keys_by_primary(redis_cluster_procs).get(url_node, set())
    data = json_of(cli("--no-cluster", "--url", cluster_url, "invalidate", "AAPL", "--dry-run", "--json"))
    assert data["matched"] == len(CLI_TARGET & on_that_node) < len(CLI_TARGET)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    pool=st.lists(symbol_text, min_size=1, max_size=6, unique=True),
    specs=st.lists(key_spec, min_size=1, max_size=25),
    pick=st.integers(0, 5),
)
def test_property_exactly_the_targets_keys_go_on_the_cluster(
    cluster: redis.cluster.RedisCluster,
    handle: RedisHandle,
    redis_cluster_procs: RedisClusterProcs,
    pool: list[str],
    specs: list[tuple[str, str, int, bool, list[str], str]],
    pick: int,
) -> None:
    redis_cluster_procs.flushall()
    target = write_specs(cluster, pool, pick, specs)
    before = keyspace(cluster)
    expected = {k for k in before if owner(k.decode(), target)}
    result = run(handle, target, count=4)
    assert keyspace(cluster) == before - expected
    assert result.matched == result.deleted == len(expected)
