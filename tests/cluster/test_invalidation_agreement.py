"""The library and the CLI agree on a Redis Cluster too, whether entries carry the symbol's hash
tag (entries and index in one slot) or not (entries spread over every primary, the index on
one of them): the same keys go, and every index stays exact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import redis.cluster

from llmcache_cli import CacheService
from llmcache_cli.config import Settings
from llmcache_cli.keys import parse_key
from tests.cache.conftest import run
from tests.cli.conftest import Invoke, json_of
from tests.cli.test_invalidation_agreement import CASES, ENTITIES, assert_index_exact, entries, populate

pytestmark = pytest.mark.cluster

CLUSTER_CASES = [
    c for c in CASES if c.name in ("symbol", "symbol by scan", "earnings", "a version in one namespace")
]


@pytest.mark.parametrize("hash_tag", ["always", "never"])
@pytest.mark.parametrize("case", CLUSTER_CASES, ids=[c.name for c in CLUSTER_CASES])
def test_library_and_cli_agree_on_the_cluster(
    cli: Invoke,
    cluster_url: str,
    cluster: redis.cluster.RedisCluster,
    tmp_path: Path,
    case: Any,
    hash_tag: str,
) -> None:
    before = populate(cluster, cluster_url, hash_tag)
    assert_index_exact(cluster)
    gone = {k for k in before if case.oracle(parse_key(k))}
    assert gone and gone != before
    library = case.library

    async def go() -> Any:
        settings = Settings(cache_version=case.library_version, stock_entities=ENTITIES, hash_tag=hash_tag)
        async with CacheService(cluster_url, settings=settings) as cache:
            return await library(cache.invalidation)

    result = run(go())
    assert (result.matched, result.deleted, result.complete) == (len(gone), len(gone), True)
    assert entries(cluster) == before - gone
    assert_index_exact(cluster)

    populate(cluster, cluster_url, hash_tag)
    config = tmp_path / "config.toml"
    config.write_text(f'[keys]\nstock_entities = ["stock", "equity"]\nhash_tag = "{hash_tag}"\n')
    data = json_of(cli("--config", str(config), "--url", cluster_url, *case.argv, "--yes", "--json"))
    assert (data["matched"], data["deleted"]) == (len(gone), len(gone))
    assert entries(cluster) == before - gone
    assert_index_exact(cluster)
