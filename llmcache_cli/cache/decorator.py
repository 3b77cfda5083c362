"""``@cached``: cache an async function's or method's result under a key from the key schema.

Key of one call (docs/design.md, "Key schema")::

    {namespace}:{entity}:{SYMBOL}[:{hash}]:{version}     when the call has a symbol
    {namespace}:fn:{function qualname}[:{hash}]:{version} otherwise

- namespace: ``key_prefix``, else ``data_type``, else the function's name. The data type (for
  the TTL policy) is ``data_type``, else the one the namespace names (unknown: ``analysis``).
- symbol: the argument of a parameter named ``symbol`` or ``ticker``; failing that, the first
  parameter after ``self``/``cls`` when its value is a ticker-like string (letters, digits and
  ``. - _ = ^ /``, at most 24 characters, starting with a letter, digit or ``^``). Entity:
  ``stock`` (or the first configured stock entity). Cluster mode wraps it as ``{AAPL}``.
- hash: ``keys.input_hash`` of the other arguments, bound as ``inspect.signature`` binds them
  (so positional or keyword makes no difference, defaults are filled in, ``self`` is skipped),
  in canonical JSON (dict order irrelevant, the same in every process). No other arguments:
  no hash segment, so ``analyze("AAPL")`` is ``analysis:stock:AAPL:v1``.

Per call only what depends on the arguments is done: the signature is read once at decoration,
and the key of a call whose arguments are all plain strings, numbers, booleans or None is
remembered by the service (``CacheService.remembered_key``), so a repeated call builds no key.
- version: ``settings.cache_version``.

Per call, ``cache_bypass=True`` skips the cache entirely and ``cache_refresh=True`` skips the
lookup but stores the fresh result. Neither reaches the wrapped function.
"""

from __future__ import annotations

import functools
import inspect
import logging
import re
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from llmcache_cli.cache.calls import CallSpec
from llmcache_cli.cache.entries import KeyInfo
from llmcache_cli.cache.service import CacheService
from llmcache_cli.config import DATA_TYPES
from llmcache_cli.keys import (
    InvalidKeyPart,
    build_key,
    check_segment,
    data_type_of,
    input_hash,
)
from llmcache_cli.limits import check_ttl

_ATOMS = (str, int, float, bool, type(None))

log = logging.getLogger("llmcache_cli.cache")

F = TypeVar("F", bound=Callable[..., Coroutine[Any, Any, Any]])
SYMBOL_PARAMETERS = ("symbol", "ticker")
RESERVED = ("cache_bypass", "cache_refresh")
FUNCTION_ENTITY = "fn"
_TICKER = re.compile(r"^[A-Za-z0-9^][A-Za-z0-9._=^/-]{0,23}$")
_POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


class CallKeys:
    """Turns one call's arguments into its key, namespace, symbol and inputs."""

    def __init__(self, func: Callable[..., Any], namespace: str, data_type: str) -> None:
        self.signature = inspect.signature(func)
        params = list(self.signature.parameters.values())
        clash = [p.name for p in params if p.name in RESERVED]
        if clash:
            raise TypeError(f"@cached cannot wrap {func.__qualname__}: parameter {clash[0]!r} is reserved")
        self.is_method = bool(params) and params[0].name in ("self", "cls")
        rest = params[1:] if self.is_method else params
        self.first = rest[0].name if rest and rest[0].kind in _POSITIONAL else None
        self.namespace = namespace
        self.data_type = data_type
        self.name = func.__qualname__
        # Binding by hand is exact only for plain parameters (no *args, **kwargs, keyword-only).
        self.plain = all(p.kind in _POSITIONAL for p in rest)
        self.names = tuple(p.name for p in rest)
        self.defaults = {p.name: p.default for p in rest if p.default is not inspect.Parameter.empty}

    def instance_cache(self, args: tuple[Any, ...]) -> Any:
        return getattr(args[0], "cache", None) if self.is_method and args else None

    def arguments(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
        if self.plain:
            given = args[1:] if self.is_method else args
            names = self.names
            if len(given) <= len(names) and (not kwargs or not set(kwargs).difference(names[len(given) :])):
                arguments = dict(zip(names, given, strict=False))
                arguments.update(kwargs)
                if len(arguments) < len(names):
                    for name, default in self.defaults.items():
                        arguments.setdefault(name, default)
                if len(arguments) == len(names):
                    return arguments
        bound = self.signature.bind(*args, **kwargs)  # raises TypeError as the call would
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        if self.is_method:
            arguments.pop(next(iter(self.signature.parameters)), None)
        return arguments

    def symbol(self, arguments: dict[str, Any]) -> tuple[str | None, str | None]:
        """(symbol, the parameter it came from)."""
        for name in SYMBOL_PARAMETERS:
            if name in arguments:
                value = arguments[name]
                try:
                    return check_segment(value, name), name
                except InvalidKeyPart as exc:
                    log.warning("%s: %s; the key has no symbol", self.name, exc)
                    return None, None
        value = arguments.get(self.first) if self.first else None
        if isinstance(value, str) and _TICKER.match(value):
            return value, self.first
        return None, None

    def memo_key(self, tags: bool, args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[Any, ...] | None:
        """What identifies a call whose arguments are all plain values (None otherwise). Types
        are part of it where they matter: ``1``, ``1.0`` and ``True`` are equal in Python but
        not in JSON."""
        given = args[1:] if self.is_method else args
        if all(type(a) is str for a in given) and not kwargs:
            return (self, tags, given)
        values = (*given, *kwargs.values())
        if not all(type(v) in _ATOMS for v in values):
            return None
        return (self, tags, tuple(map(type, values)), given, tuple(kwargs.items()))

    def key_of(
        self, service: CacheService, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[str, KeyInfo, dict[str, Any]]:
        """The call's key, what it says, and the bound arguments."""
        tags = service.hash_tags()
        memo = self.memo_key(tags, args, kwargs)
        if memo is not None:
            found = service.remembered_key(memo)
            if found is not None:
                return found  # type: ignore[no-any-return]
        arguments = self.arguments(args, kwargs)
        symbol, source = self.symbol(arguments)
        rest = {k: v for k, v in arguments.items() if k != source}
        qualifier = [input_hash(rest)] if rest else []
        version = service.settings.cache_version
        if symbol is not None:
            entity = service.stock_entity
            key = build_key(self.namespace, entity, symbol, *qualifier, version, hash_tag=tags)
            info = KeyInfo(self.namespace, self.data_type, symbol, entity)
        else:
            key = build_key(self.namespace, FUNCTION_ENTITY, self.name, *qualifier, version)
            info = KeyInfo(self.namespace, self.data_type, None, None)
        if memo is not None:
            service.remember_key(memo, (key, info, arguments))
        return key, info, arguments


def cached(
    ttl: int | None = None,
    key_prefix: str = "",
    data_type: str | None = None,
    cache: CacheService | None = None,
    *,
    model: str | None = None,
) -> Callable[[F], F]:
    """Cache an async function's result (see the module docstring for the key).

    ``ttl``: seconds; default: the TTL policy for ``data_type`` and the symbol, when written.
    ``cache``: the service; default: the ``cache`` attribute of the method's instance. With
    neither, the function simply runs. ``model``: what to price the call with when the
    function does not report it with ``record_usage`` (default ``settings.default_model``).
    """
    if ttl is not None:
        check_ttl(ttl)
    if data_type is not None and data_type not in DATA_TYPES:
        raise ValueError(f"unknown data_type {data_type!r}; known: {', '.join(DATA_TYPES)}")
    if key_prefix:
        check_segment(key_prefix, "key_prefix")

    def decorate(func: F) -> F:
        if not inspect.iscoroutinefunction(func):
            raise TypeError(f"@cached decorates async functions; {func.__qualname__} is not one")
        namespace = key_prefix or data_type or func.__name__
        check_segment(namespace, "namespace")
        keys = CallKeys(func, namespace, data_type or data_type_of(namespace))
        if cache is None and not keys.is_method:
            log.warning(
                "%s: no cache= and no self/cls parameter to find one on: it will always run uncached",
                keys.name,
            )
        said_missing = False  # an instance without .cache is said once per function, not per call

        def service_for(args: tuple[Any, ...]) -> CacheService | None:
            nonlocal said_missing
            found = cache if cache is not None else keys.instance_cache(args)
            if found is not None and not isinstance(found, CacheService):
                log.warning("%s: cache %r is not a CacheService; not caching", keys.name, found)
                return None
            if found is None and keys.is_method and not said_missing:
                said_missing = True
                log.warning("%s: the instance has no .cache (a CacheService); running uncached", keys.name)
            return found

        @functools.wraps(func)
        async def wrapper(
            *args: Any, cache_bypass: bool = False, cache_refresh: bool = False, **kwargs: Any
        ) -> Any:
            service = service_for(args)
            if service is None or cache_bypass:
                if service is not None:
                    service.stats.bypassed += 1
                return await func(*args, **kwargs)
            try:
                key, info, arguments = keys.key_of(service, args, kwargs)
            except (TypeError, ValueError) as exc:
                log.warning("%s: cannot build a cache key (%s); calling uncached", keys.name, exc)
                service.stats.errors += 1
                return await func(*args, **kwargs)
            spec = CallSpec(key, info, arguments, ttl, model, keys.name, cache_refresh)
            return await service.call(spec, lambda: func(*args, **kwargs))

        def cache_key(*args: Any, **kwargs: Any) -> str:
            """The key a call with these arguments uses (with the service's current cluster mode)."""
            service = service_for(args)
            if service is None:
                raise TypeError(
                    f"{keys.name} has no cache: pass cache= or call it on an instance with .cache"
                )
            return keys.key_of(service, args, kwargs)[0]

        wrapper.cache_key = cache_key  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return decorate
