"""What an LLM call cost: token counts priced from the price table in the settings.

A decorated function reports what its call used with ``record_usage(model=..., input_tokens=...,
output_tokens=...)`` (from the LLM client's response). When it does not, ``@cached`` estimates
the tokens from the size of the inputs and of the answer (``estimate_tokens``: about four
characters per token) and prices them with the decorator's ``model`` or ``settings.default_model``;
the entry's meta then says ``"usage_estimated": true``.

Prices are dollars per million tokens, ``settings.prices`` (defaults in ``config.DEFAULT_PRICES``,
overridden by ``[prices.<model>]`` in the config file).
"""

from __future__ import annotations

import contextvars
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from llmcache_cli.config import Settings
from llmcache_cli.errors import ConfigError
from llmcache_cli.keys import canonical_json

log = logging.getLogger("llmcache_cli.cache")

CHARS_PER_TOKEN = 4


@dataclass
class Usage:
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None  # a cost reported by the caller wins over the price table


_current: contextvars.ContextVar[Usage | None] = contextvars.ContextVar("llmcache_usage", default=None)


def record_usage(
    *,
    model: str | None = None,
    input_tokens: int | None = None,
    output_tokens: int | None = None,
    cost_usd: float | None = None,
) -> None:
    """Tell the enclosing ``@cached`` call what its LLM call used. Several calls add up.

    Outside a decorated call this does nothing.
    """
    usage = _current.get()
    if usage is None:
        return
    if model is not None:
        usage.model = model
    if input_tokens is not None:
        usage.input_tokens = (usage.input_tokens or 0) + int(input_tokens)
    if output_tokens is not None:
        usage.output_tokens = (usage.output_tokens or 0) + int(output_tokens)
    if cost_usd is not None:
        usage.cost_usd = (usage.cost_usd or 0.0) + float(cost_usd)


def start_usage() -> tuple[Usage, contextvars.Token[Usage | None]]:
    usage = Usage()
    return usage, _current.set(usage)


def end_usage(token: contextvars.Token[Usage | None]) -> None:
    _current.reset(token)


async def measured_call(compute: Callable[[], Awaitable[Any]]) -> tuple[Any, Usage, float]:
    """Run ``compute()``: its answer, the usage it reported with ``record_usage``, and how long
    it took in milliseconds."""
    usage, token = start_usage()
    started = time.perf_counter()
    try:
        value = await compute()
    finally:
        end_usage(token)
    return value, usage, (time.perf_counter() - started) * 1000


def estimate_tokens(value: Any) -> int:
    """About four characters per token of the value's JSON (or text) form; at least 1."""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = canonical_json(value)
        except (TypeError, ValueError):
            text = json.dumps(value, default=str)
    return max(1, math.ceil(len(text) / CHARS_PER_TOKEN))


def price_call(settings: Settings, model: str, input_tokens: int, output_tokens: int) -> float:
    """Dollars for one call; 0.0 (with a warning) for a model missing from the price table."""
    try:
        return settings.price(model).cost(input_tokens, output_tokens)
    except ConfigError as exc:
        log.warning("cannot price the call: %s", exc.one_line())
        return 0.0


@dataclass(frozen=True)
class CallCost:
    model: str
    input_tokens: int
    output_tokens: int
    cost_usd: float
    estimated: bool


def settle_usage(
    settings: Settings, usage: Usage, inputs: Any, result: Any, model: str | None = None
) -> CallCost:
    """Complete what the call reported with estimates, and price it."""
    estimated = usage.input_tokens is None or usage.output_tokens is None
    name = usage.model or model or settings.default_model
    tokens_in = usage.input_tokens if usage.input_tokens is not None else estimate_tokens(inputs)
    tokens_out = usage.output_tokens if usage.output_tokens is not None else estimate_tokens(result)
    cost = usage.cost_usd if usage.cost_usd is not None else price_call(settings, name, tokens_in, tokens_out)
    return CallCost(name, tokens_in, tokens_out, cost, estimated)
