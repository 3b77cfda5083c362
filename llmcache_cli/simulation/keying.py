"""Cache keys of simulated requests, built with the library's key builder (key schema: docs/design.md).

- ``symbol`` and ``conditional``: ``analysis:stock:AAPL:v1``, one entry per symbol and type;
- ``data-hash``: ``analysis:stock:AAPL:<hash of the modelled input>:v1``;
- ``time-bucket``: ``analysis:stock:AAPL:<hours since the epoch>:v1`` (hour buckets).

The version segment is the configured cache version, as the ``@cached`` decorator writes it.
"""

from __future__ import annotations

from llmcache_cli.keys import data_hash_key, symbol_key, time_bucket_key
from llmcache_cli.simulation.inputs import InputArrays
from llmcache_cli.simulation.workload import from_epoch_ms

BUCKET_MS = 3_600_000  # time-bucket keys use hour buckets (keys.hour_bucket's default)


def entry_key(
    strategy: str,
    data_type: str,
    symbol: str,
    version: str,
    inputs: InputArrays,
    row: int,
    index: int,
    at_ms: int,
) -> str:
    """The key the bot uses for request ``index`` of ``symbol`` (row ``row`` of ``inputs``)."""
    if strategy in ("symbol", "conditional"):
        return symbol_key(data_type, symbol, version)
    if strategy == "data-hash":
        return data_hash_key(data_type, symbol, inputs.hash_payload(row, index, data_type), version)
    if strategy == "time-bucket":
        return time_bucket_key(data_type, symbol, from_epoch_ms(at_ms), version)
    raise ValueError(f"unknown key strategy {strategy!r}")
