"""llmcache: cache LLM answers for trading bots in Redis, and run that cache.

The library half (``CacheService``, ``cached``) is what a bot imports; the ``llmcache`` command
is what an operator runs. See README.md.
"""

__version__ = "0.1.0"
