"""llmcache: cache LLM answers for trading bots in Redis, and run that cache.

The library half (``CacheService``, ``cached``) is what a bot imports; the ``llmcache`` command
is what an operator runs. See README.md.

The library names are loaded on first use (module ``__getattr__``), so that ``import
llmcache_cli`` stays light for the command-line tool.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LIBRARY_NAMES = (
    "CacheService",
    "CacheStats",
    "CircuitBreaker",
    "DEFAULT_THRESHOLDS",
    "InvalidationResult",
    "Invalidator",
    "Lookup",
    "Threshold",
    "TraceRecord",
    "cached",
    "changed_significantly",
    "read_trace",
    "record_usage",
    "reuse_if_unchanged",
)
_INTEGRATION_NAMES = ("wrap",)

__all__ = ["__version__", *_LIBRARY_NAMES, *_INTEGRATION_NAMES]

if TYPE_CHECKING:
    from llmcache_cli.cache import DEFAULT_THRESHOLDS as DEFAULT_THRESHOLDS
    from llmcache_cli.cache import CacheService as CacheService
    from llmcache_cli.cache import CacheStats as CacheStats
    from llmcache_cli.cache import CircuitBreaker as CircuitBreaker
    from llmcache_cli.cache import InvalidationResult as InvalidationResult
    from llmcache_cli.cache import Invalidator as Invalidator
    from llmcache_cli.cache import Lookup as Lookup
    from llmcache_cli.cache import Threshold as Threshold
    from llmcache_cli.cache import TraceRecord as TraceRecord
    from llmcache_cli.cache import cached as cached
    from llmcache_cli.cache import changed_significantly as changed_significantly
    from llmcache_cli.cache import read_trace as read_trace
    from llmcache_cli.cache import record_usage as record_usage
    from llmcache_cli.cache import reuse_if_unchanged as reuse_if_unchanged
    from llmcache_cli.integrations import wrap as wrap


def __getattr__(name: str) -> Any:
    if name in _LIBRARY_NAMES:
        from llmcache_cli import cache

        return getattr(cache, name)
    if name in _INTEGRATION_NAMES:
        from llmcache_cli import integrations

        return getattr(integrations, name)
    raise AttributeError(f"module 'llmcache_cli' has no attribute {name!r}")
