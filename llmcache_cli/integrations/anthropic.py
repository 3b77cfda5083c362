"""``anthropic.AsyncAnthropic``: ``messages.create`` cached (``pip install llmcache-cli[anthropic]``).

Usage is read from the response: ``usage.input_tokens`` (the uncached part of the prompt),
``cache_creation_input_tokens`` and ``cache_read_input_tokens`` (prompt caching), and
``output_tokens``. The price table has one input price per model; prompt-cache writes are billed
at 1.25 times it and reads at 0.1 times it (Anthropic's published multipliers for the 5-minute
cache), so a call is priced at what Anthropic bills for it.
"""

from __future__ import annotations

from typing import Any

from llmcache_cli.cache import CacheService
from llmcache_cli.config import Settings
from llmcache_cli.integrations.core import CachedCreate, Provider, Proxy, Spend, price_per_token

CACHE_WRITE_MULTIPLIER = 1.25
CACHE_READ_MULTIPLIER = 0.1


def spend(settings: Settings, message: Any) -> Spend:
    usage = message.usage
    fresh = int(usage.input_tokens or 0)
    written = int(getattr(usage, "cache_creation_input_tokens", None) or 0)
    read = int(getattr(usage, "cache_read_input_tokens", None) or 0)
    output = int(usage.output_tokens or 0)
    prices = price_per_token(settings, message.model)
    cost = 0.0
    if prices is not None:
        per_in, per_out = prices
        billed_in = fresh + written * CACHE_WRITE_MULTIPLIER + read * CACHE_READ_MULTIPLIER
        cost = billed_in * per_in + output * per_out
    return Spend(message.model, fresh + written + read, output, cost)


def rebuild(stored: Any) -> Any:
    from anthropic.types import Message

    return Message.model_validate(stored)


PROVIDER = Provider("anthropic.messages", rebuild, spend)


def wrap_anthropic(client: Any, cache: CacheService, defaults: dict[str, Any]) -> Any:
    messages = client.messages
    create = CachedCreate(messages.create, cache, PROVIDER, defaults)
    return Proxy(client, {"messages": Proxy(messages, {"create": create})})
