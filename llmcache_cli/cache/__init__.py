"""The library half of llmcache: an async Redis cache for LLM answers (docs/design.md,
"Stored value" and "The library").

``CacheService`` is the cache; ``cached`` the decorator; ``record_usage`` lets a decorated
function report its LLM call's tokens; ``Invalidator`` (also ``CacheService.invalidation``) the
event and version helpers; ``changed_significantly`` and ``reuse_if_unchanged`` the conditional
check. See docs/library.md.
"""

from llmcache_cli.cache.breaker import BreakerState, BreakerStats, CircuitBreaker
from llmcache_cli.cache.conditional import (
    DEFAULT_THRESHOLDS,
    Threshold,
    changed_significantly,
    reuse_if_unchanged,
)
from llmcache_cli.cache.costs import estimate_tokens, price_call, record_usage
from llmcache_cli.cache.counters import CacheStats
from llmcache_cli.cache.decorator import cached
from llmcache_cli.cache.entries import Lookup
from llmcache_cli.cache.invalidator import InvalidationResult, Invalidator
from llmcache_cli.cache.service import CacheService
from llmcache_cli.cache.trace import TRACE_FIELDS, TraceRecord, read_trace

__all__ = [
    "DEFAULT_THRESHOLDS",
    "TRACE_FIELDS",
    "BreakerState",
    "BreakerStats",
    "CacheService",
    "CacheStats",
    "CircuitBreaker",
    "InvalidationResult",
    "Invalidator",
    "Lookup",
    "Threshold",
    "TraceRecord",
    "cached",
    "changed_significantly",
    "estimate_tokens",
    "price_call",
    "read_trace",
    "record_usage",
    "reuse_if_unchanged",
]
