"""What the SDK integrations share: one cached call of a provider's create method.

The glue is built on the public library only: ``cached`` (lookup, stampede protection, TTL
policy, counters, ``cache_bypass`` / ``cache_refresh``), ``record_usage`` (what the response says
it used, priced here) and ``CacheService.stats``. A provider module says how to read its usage
and how to rebuild its response type; this module does the rest.

Key of one call: the request's keyword arguments (everything but the ``cache_*`` ones and
``timeout``) hashed as canonical JSON, with the provider's name::

    {data_type}:stock:{SYMBOL}:{hash}:v1        with cache_symbol=
    {data_type}:fn:{provider.method}:{hash}:v1  without
"""

from __future__ import annotations

import contextvars
import logging
import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from llmcache_cli.cache import CacheService, cached, record_usage
from llmcache_cli.config import DATA_TYPES, Settings
from llmcache_cli.errors import ConfigError
from llmcache_cli.keys import check_segment

log = logging.getLogger("llmcache_cli.integrations")

CACHE_OPTIONS = ("cache_data_type", "cache_symbol", "cache_ttl", "cache_bypass", "cache_refresh")
DEFAULT_DATA_TYPE = "analysis"
# Request options that change how the SDK talks to the API, not the answer: not in the key.
NOT_IN_KEY = ("timeout",)
_DATED_MODEL = re.compile(r"^(?P<base>.+?)-(?:\d{8}|\d{4}-\d{2}-\d{2})$")


@dataclass(frozen=True)
class Spend:
    """What one response says it used, in the provider's own terms, split by price."""

    model: str
    input_tokens: int  # every prompt token, cached or not
    output_tokens: int
    cost_usd: float


@dataclass(frozen=True)
class Provider:
    """How one SDK's create method is cached."""

    name: str  # "anthropic.messages", "openai.chat.completions": part of the key
    rebuild: Callable[[Any], Any]  # stored JSON -> the SDK's response object
    spend: Callable[[Settings, Any], Spend]  # the SDK's response -> what it used


def price_per_token(settings: Settings, model: str) -> tuple[float, float] | None:
    """(input, output) dollars per token for ``model``, or for its undated name
    (``claude-sonnet-4-5-20250929`` -> ``claude-sonnet-4-5``); None when the table has neither."""
    for name in (model, *(m.group("base") for m in [_DATED_MODEL.match(model)] if m)):
        try:
            price = settings.price(name)
        except ConfigError:
            continue
        return price.input_per_mtok / 1e6, price.output_per_mtok / 1e6
    log.warning("cannot price a call to %r: no [prices] entry for it; counted as $0", model)
    return None


class _Box:
    """One caller's full request (``timeout`` and all, which the key does not see) for the call
    that runs, and where that call puts the SDK's own response, so the caller that made it gets
    that very object (with its request id) rather than the rebuilt copy. It reaches the call
    through a context variable: ``@cached`` runs the call in a task made in the caller's context.
    """

    def __init__(self, request: Mapping[str, Any]) -> None:
        self.request = request
        self.response: Any = None


_box: contextvars.ContextVar[_Box | None] = contextvars.ContextVar("llmcache_sdk_box", default=None)


class CachedCreate:
    """A cached stand-in for one SDK ``create`` method."""

    def __init__(
        self,
        create: Callable[..., Awaitable[Any]],
        cache: CacheService,
        provider: Provider,
        defaults: Mapping[str, Any],
    ) -> None:
        if not isinstance(cache, CacheService):
            raise TypeError(f"wrap needs a CacheService, got {type(cache).__name__}")
        self._create = create
        self._cache = cache
        self._provider = provider
        self._cache_defaults = {k: v for k, v in defaults.items() if k in CACHE_OPTIONS}
        self._request_defaults = {k: v for k, v in defaults.items() if k not in CACHE_OPTIONS}
        self._functions: dict[tuple[str, int | None, bool], Callable[..., Awaitable[Any]]] = {}
        check_options(self._cache_defaults)

    async def __call__(self, **kwargs: Any) -> Any:
        options = {**self._cache_defaults, **{k: kwargs.pop(k) for k in CACHE_OPTIONS if k in kwargs}}
        request = {**self._request_defaults, **kwargs}
        if request.get("stream"):
            self._cache.stats.bypassed += 1
            return await self._create(**request)  # a stream is passed through, never cached
        check_options(options)
        data_type = options.get("cache_data_type") or DEFAULT_DATA_TYPE
        symbol = options.get("cache_symbol")
        function = self._function(data_type, options.get("cache_ttl"), symbol is not None)
        keyed = {k: v for k, v in request.items() if k not in NOT_IN_KEY}
        flags = {
            "cache_bypass": bool(options.get("cache_bypass")),
            "cache_refresh": bool(options.get("cache_refresh")),
        }
        box = _Box(request)
        token = _box.set(box)
        try:
            if symbol is not None:
                stored = await function(symbol, self._provider.name, keyed, **flags)
            else:
                stored = await function(keyed, **flags)
        finally:
            _box.reset(token)
        return box.response if box.response is not None else self._provider.rebuild(stored)

    def _function(self, data_type: str, ttl: int | None, with_symbol: bool) -> Callable[..., Awaitable[Any]]:
        """The ``@cached`` function for one data type and TTL (made once, then reused)."""
        found = self._functions.get((data_type, ttl, with_symbol))
        if found is not None:
            return found
        run = self._run

        if with_symbol:

            async def call(symbol: str, provider: str, request: Any) -> Any:
                return await run()

        else:

            async def call(request: Any) -> Any:  # type: ignore[misc]
                return await run()

        call.__name__ = call.__qualname__ = self._provider.name
        made = cached(ttl=ttl, data_type=data_type, cache=self._cache)(call)
        self._functions[(data_type, ttl, with_symbol)] = made
        return made

    async def _run(self) -> Any:
        """The real API call: its usage goes to the cache's accounts, its JSON to the cache."""
        box = _box.get()
        if box is None:  # pragma: no cover - only ever called from __call__
            raise RuntimeError("the cached SDK call ran outside its caller")
        response = await self._create(**box.request)
        spend = self._provider.spend(self._cache.settings, response)
        record_usage(
            model=spend.model,
            input_tokens=spend.input_tokens,
            output_tokens=spend.output_tokens,
            cost_usd=spend.cost_usd,
        )
        box.response = response
        return response.model_dump(mode="json", by_alias=True, exclude_unset=True)


def check_options(options: Mapping[str, Any]) -> None:
    """A bad ``cache_*`` option is the caller's mistake: ValueError, before any call."""
    data_type = options.get("cache_data_type")
    if data_type is not None and data_type not in DATA_TYPES:
        raise ValueError(f"unknown cache_data_type {data_type!r}; known: {', '.join(DATA_TYPES)}")
    symbol = options.get("cache_symbol")
    if symbol is not None:
        check_segment(symbol, "cache_symbol")
    ttl = options.get("cache_ttl")
    if ttl is not None and (isinstance(ttl, bool) or not isinstance(ttl, int) or ttl <= 0):
        raise ValueError(f"cache_ttl must be a positive whole number of seconds, got {ttl!r}")


class Proxy:
    """An object that is ``target`` except for the attributes in ``overrides``."""

    def __init__(self, target: Any, overrides: Mapping[str, Any]) -> None:
        self._target = target
        self._overrides = dict(overrides)

    def __getattr__(self, name: str) -> Any:
        if name in ("_target", "_overrides"):
            raise AttributeError(name)
        if name in self._overrides:
            return self._overrides[name]
        return getattr(self._target, name)

    def __repr__(self) -> str:
        return f"<cached {self._target!r}>"

    async def __aenter__(self) -> Proxy:  # ``async with wrap(AsyncAnthropic(), cache) as client``
        await self._target.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._target.__aexit__(*exc)
