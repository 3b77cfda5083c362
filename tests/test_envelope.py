"""Decoding what is found in Redis: numbers JSON cannot carry, and the figures of the meta."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from llmcache_cli.envelope import Entry, decode_entry, meta_number


@pytest.mark.parametrize("number", ["1e400", "-1e400", "NaN", "Infinity", "-Infinity"])
def test_numbers_json_cannot_carry_read_as_null(number: str) -> None:
    entry = decode_entry(f'{{"result": [{number}, 2.5], "meta": {{"cost_usd": {number}}}}}'.encode())
    assert (entry.kind, entry.result, entry.meta) == ("envelope", [None, 2.5], {"cost_usd": None})
    json.dumps([entry.result, entry.meta], allow_nan=False)  # strict JSON again
    assert decode_entry(number).kind == "json" and decode_entry(number).result is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0.25, 0.25), (3, 3.0), (0, 0.0), (-1, None), (True, None), ("0.5", None), (None, None)],
)
def test_meta_number_keeps_finite_figures_only(value: object, expected: float | None) -> None:
    assert meta_number({"cost_usd": value}, "cost_usd") == expected


def test_meta_number_copes_with_what_json_cannot_hold_as_a_float() -> None:
    assert meta_number({"cost_usd": float("inf")}, "cost_usd") is None
    assert meta_number({"cost_usd": float("nan")}, "cost_usd") is None
    assert meta_number({"cost_usd": 10**400}, "cost_usd") is None  # float() overflows
    assert meta_number(None, "cost_usd") is None


def test_entry_figures_are_zero_when_absent_or_poisoned() -> None:
    entry = Entry("envelope", 1, {"cost_usd": float("inf"), "latency_ms": 12})
    assert (entry.cost_usd, entry.latency_ms) == (0.0, 12.0)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@given(value=_JSON)
def test_every_json_document_decodes_as_json_loads_reads_it(value: object) -> None:
    """Whichever decoder reads a document (the fast strict one, or ``json`` for what it
    refuses), the result is what ``json.loads`` makes of it."""
    for text in (json.dumps(value), json.dumps(value, ensure_ascii=False)):
        entry = decode_entry(text.encode("utf-8"))
        assert entry.kind in ("json", "envelope")
        got = entry.result if entry.kind == "json" else {"result": entry.result, "meta": entry.meta}
        assert json.dumps(got) == json.dumps(json.loads(text))
