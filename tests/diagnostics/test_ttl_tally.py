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


def test_the_keys_listed_do_not_depend_on_the_order_they_come_in() -> None:
    """A cluster's primaries hand their batches over in any order: keys tied at the cut of the
    no-TTL and over-policy lists are chosen by name, so every run lists the same ones."""
    keys = [b"analysis:stock:S%d:v1" % i for i in range(40)]
    memories = [500 + 8 * (i // 10) for i in range(40)]  # ties in fours of ten
    over = [10_000_000 + 1000 * (i // 10) for i in range(40)]  # far over the policy's 1 day

    def listed(order: list[int]) -> tuple[list[tuple[int, bytes]], list[tuple[int, bytes]]]:
        tally = TTLTally(make_policy(Settings(), "by-type"), ("stock",), 15)
        for chunk in (order[:20], order[20:]):
            tally.add_batch([keys[i] for i in chunk], [-1] * len(chunk), [memories[i] for i in chunk])
            tally.add_batch([keys[i] for i in chunk], [over[i] * 1000 for i in chunk], [1] * len(chunk))
        return sorted(tally.no_ttl_keys.heap), sorted(item[:2] for item in tally.over_keys.heap)

    forward = listed(list(range(40)))
    shuffled = list(range(40))
    random.Random(5).shuffle(shuffled)
    assert listed(shuffled) == listed(shuffled[::-1]) == forward
    assert len(forward[0]) == len(forward[1]) == 15
