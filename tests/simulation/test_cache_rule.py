"""The per-request rule: the inclusive expiry, ``conditional``, and the array form (the lockstep
engine's) answering exactly as the number form (the reference engine's) does."""

from __future__ import annotations

import itertools

import numpy as np

from llmcache_cli.simulation.cache_rule import expires_at, misses


def test_an_entry_serves_up_to_and_including_its_expiry() -> None:
    expires = expires_at(1_000, 60)
    assert expires == 61_000
    assert not misses(61_000, expires, False, conditional=False)
    assert misses(61_001, expires, False, conditional=False)


def test_moved_inputs_miss_only_under_conditional() -> None:
    assert misses(10, 20, True, conditional=True)
    assert not misses(10, 20, True, conditional=False)
    assert misses(30, 20, False, conditional=True)


def test_the_array_form_answers_as_the_number_form() -> None:
    cases = list(itertools.product([-1, 59_999, 60_000, 60_001], [False, True]))
    expires = np.array([e for e, _ in cases], dtype=np.int64)
    moved = np.array([m for _, m in cases])
    for conditional in (False, True):
        got = misses(60_000, expires, moved, conditional)
        assert got.tolist() == [misses(60_000, e, m, conditional) for e, m in cases]
    written, ttl = np.array([0, 5, 7]), np.array([1, 2, 3])
    expected = [expires_at(int(w), int(s)) for w, s in zip(written, ttl, strict=True)]
    assert expires_at(written, ttl).tolist() == expected
