"""``openai.AsyncOpenAI``: ``chat.completions.create`` cached (``pip install llmcache-cli[openai]``).

Usage is read from the response: ``usage.prompt_tokens`` (which includes the cached part,
``prompt_tokens_details.cached_tokens``) and ``completion_tokens``. The price table has one input
price per model; cached prompt tokens are billed at half of it (OpenAI's published discount for
the gpt-4o family), so a call is priced at what OpenAI bills for it.
"""

from __future__ import annotations

from typing import Any

from llmcache_cli.cache import CacheService
from llmcache_cli.config import Settings
from llmcache_cli.integrations.core import CachedCreate, Provider, Proxy, Spend, price_per_token

CACHED_INPUT_MULTIPLIER = 0.5


def spend(settings: Settings, completion: Any) -> Spend:
    usage = completion.usage
    prompt = int(getattr(usage, "prompt_tokens", None) or 0)
    output = int(getattr(usage, "completion_tokens", None) or 0)
    details = getattr(usage, "prompt_tokens_details", None)
    cached_tokens = min(prompt, int(getattr(details, "cached_tokens", None) or 0))
    prices = price_per_token(settings, completion.model)
    cost = 0.0
    if prices is not None:
        per_in, per_out = prices
        billed_in = (prompt - cached_tokens) + cached_tokens * CACHED_INPUT_MULTIPLIER
        cost = billed_in * per_in + output * per_out
    return Spend(completion.model, prompt, output, cost)


def rebuild(stored: Any) -> Any:
    from openai.types.chat import ChatCompletion

    return ChatCompletion.model_validate(stored)


PROVIDER = Provider("openai.chat.completions", rebuild, spend)


def wrap_openai(client: Any, cache: CacheService, defaults: dict[str, Any]) -> Any:
    chat = client.chat
    completions = chat.completions
    create = CachedCreate(completions.create, cache, PROVIDER, defaults)
    return Proxy(client, {"chat": Proxy(chat, {"completions": Proxy(completions, {"create": create})})})
