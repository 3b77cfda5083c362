"""Cached LLM SDK clients: ``wrap(client, cache, **defaults)``.

``wrap`` takes an ``anthropic.AsyncAnthropic`` or an ``openai.AsyncOpenAI`` and returns a client
of the same shape whose ``messages.create`` / ``chat.completions.create`` go through the cache
(see ``core`` for the key). Per call, and as ``defaults``:

- ``cache_data_type=`` (namespace and TTL policy; default ``analysis``), ``cache_symbol=``
  (the entry belongs to that symbol: invalidation by symbol reaches it), ``cache_ttl=``
  (seconds, instead of the policy), ``cache_bypass=True``, ``cache_refresh=True``. The SDK never
  sees them.
- any other default is a request argument (``model=``, ``max_tokens=``...) the call may override.

A hit returns the SDK's own response type, rebuilt from the stored JSON. ``stream=True`` is passed
through uncached; an error from the SDK is raised and nothing is stored. The SDKs are optional
extras and are only imported by the code that uses them.
"""

from __future__ import annotations

from typing import Any, TypeVar

from llmcache_cli.cache import CacheService

C = TypeVar("C")

_CLIENTS = {
    ("anthropic", "AsyncAnthropic"): "anthropic",
    ("openai", "AsyncOpenAI"): "openai",
}


def wrap(client: C, cache: CacheService, **defaults: Any) -> C:
    """``client`` with its create method cached in ``cache`` (see the module docstring)."""
    for cls in type(client).__mro__:
        provider = _CLIENTS.get((cls.__module__.split(".")[0], cls.__name__))
        if provider == "anthropic":
            from llmcache_cli.integrations.anthropic import wrap_anthropic

            return wrap_anthropic(client, cache, defaults)  # type: ignore[no-any-return]
        if provider == "openai":
            from llmcache_cli.integrations.openai import wrap_openai

            return wrap_openai(client, cache, defaults)  # type: ignore[no-any-return]
    raise TypeError(
        f"wrap takes an anthropic.AsyncAnthropic or an openai.AsyncOpenAI client, "
        f"not {type(client).__module__}.{type(client).__name__}"
    )


__all__ = ["wrap"]
