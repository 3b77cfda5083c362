"""The ttl tally's per-type TTL figures, from PTTL replies alone (no server needed): the
shortest, median and longest TTL in whole seconds, as Redis's TTL rounds them."""

from __future__ import annotations

import random
import statistics

from llmcache_cli.config import Settings
from llmcache_cli.diagnostics.common import ttl_seconds
from llmcache_cli.diagnostics.ttl_tally import TTLTally
from llmcache_cli.ttl_policy import make_policy


def rows(pttls: list[int]) -> dict[str, tuple[int | None, int | None, int | None]]:
    tally = TTLTally(make_policy(Settings(), "by-type"), ("stock",), 5)
    keys = [b"technical:stock:S%d:v1" % i for i in range(len(pttls))]
    tally.add_batch(keys, pttls, [100] * len(pttls))
    return {r.group: (r.min_ttl_seconds, r.median_ttl_seconds, r.max_ttl_seconds) for r in tally.type_rows()}


def test_median_min_and_max_of_the_whole_seconds() -> None:
    rng = random.Random(3)
    for _ in range(300):
        pttls = [
            rng.choice((-1, rng.randint(0, 20_000), rng.randint(0, 3_000))) for _ in range(rng.randint(1, 60))
        ]
        seconds = [ttl_seconds(p) for p in pttls if p >= 0]
        got = rows(pttls).get("technical")
        if not seconds:
            assert got == (None, None, None)
            continue
        assert got == (min(seconds), round(statistics.median(seconds)), max(seconds)), pttls


def test_even_count_takes_the_mean_of_the_middle_two() -> None:
    assert rows([1_000, 3_000, 9_000, 60_000])["technical"] == (1, 6, 60)
    assert rows([10_000])["technical"] == (10, 10, 10)
