"""Configuration: documented defaults, overridden by a TOML file.

Where the file comes from, first match wins: ``--config FILE``, env ``LLMCACHE_CONFIG``, then
``$XDG_CONFIG_HOME/llmcache/config.toml`` (``~/.config/llmcache/config.toml``). An explicitly
named file must exist; the user config file is optional. Every value is validated here so that a
typo gives one clear line naming the setting, not a crash later.
"""

from __future__ import annotations

import datetime as dt
import math
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from llmcache_cli.errors import ConfigError
from llmcache_cli.limits import MAX_TIMEOUT_SECONDS, TTL_RULE, is_ttl
from llmcache_cli.segments import InvalidKeyPart, check_segment

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

DATA_TYPES: tuple[str, ...] = (
    "fundamental",
    "sentiment",
    "technical",
    "earnings",
    "market",
    "historical",
    "analysis",
)
DEFAULT_DATA_TYPE = "analysis"
POLICIES: tuple[str, ...] = ("flat", "by-type", "market-aware")

# docs/design.md, "TTL semantics": the seed's base table.
BY_TYPE_TTL: Mapping[str, int] = {
    "fundamental": 86400,
    "sentiment": 3600,
    "technical": 900,
    "earnings": 604800,
    "market": 1800,
    "historical": 2592000,
    "analysis": 3600,
}
# docs/design.md, "TTL semantics": the seed's SmartCache table (market open / closed), where it has an entry.
MARKET_OPEN_TTL: Mapping[str, int] = {"fundamental": 3600, "sentiment": 900, "technical": 300}
MARKET_CLOSED_TTL: Mapping[str, int] = {"fundamental": 86400, "sentiment": 3600, "technical": 1800}


def check_version(value: object, what: str = "cache version") -> str:
    """The one rule for a cache version, wherever one is given (``[cache] version``,
    ``llmcache purge-version``, ``Invalidator.purge_version``): any single key segment
    (``v1``, ``2024-06``). A writer appends it as the key's last segment."""
    try:
        return check_segment(value, what)  # type: ignore[arg-type]
    except InvalidKeyPart as exc:
        raise ConfigError(str(exc), hint="a cache version is one key segment, e.g. v2 or 2024-06") from None


@dataclass(frozen=True)
class ModelPrice:
    """US dollars per one million tokens."""

    input_per_mtok: float
    output_per_mtok: float

    def cost(self, input_tokens: int, output_tokens: int) -> float:
        return (input_tokens * self.input_per_mtok + output_tokens * self.output_per_mtok) / 1e6


# Public list prices (USD per 1M tokens) at the time of writing; override in [prices.<model>].
DEFAULT_PRICES: Mapping[str, ModelPrice] = {
    "claude-opus-4-5": ModelPrice(5.0, 25.0),
    "claude-sonnet-4-5": ModelPrice(3.0, 15.0),
    "claude-haiku-4-5": ModelPrice(1.0, 5.0),
    "gpt-4o": ModelPrice(2.5, 10.0),
    "gpt-4o-mini": ModelPrice(0.15, 0.6),
}
DEFAULT_MODEL = "claude-sonnet-4-5"


@dataclass(frozen=True)
class TTLConfig:
    policy: str = "market-aware"
    flat_seconds: int = 3600
    by_type: Mapping[str, int] = field(default_factory=lambda: dict(BY_TYPE_TTL))
    market_open: Mapping[str, int] = field(default_factory=lambda: dict(MARKET_OPEN_TTL))
    market_closed: Mapping[str, int] = field(default_factory=lambda: dict(MARKET_CLOSED_TTL))
    volatile_symbols: frozenset[str] = frozenset({"TSLA", "GME", "AMC"})
    volatile_factor: float = 0.5


HASH_TAG_FORMS = ("always", "never")  # [keys] hash_tag


@dataclass(frozen=True)
class Settings:
    """Everything configurable. ``source`` is the file it came from, or None for defaults."""

    ttl: TTLConfig = field(default_factory=TTLConfig)
    stock_entities: frozenset[str] = frozenset({"stock"})
    cache_version: str = "v1"
    hash_tag: str = "never"  # "always": symbols as cluster hash tags ({AAPL}), for Redis Cluster
    # Namespaces of cache entries besides the data types (judged as "analysis"); keys in any
    # other namespace are not the cache's: reports count them as "other" and judge nothing.
    cache_namespaces: frozenset[str] = frozenset()
    timeout_seconds: float = 5.0
    extra_closures: frozenset[dt.date] = frozenset()
    prices: Mapping[str, ModelPrice] = field(default_factory=lambda: dict(DEFAULT_PRICES))
    default_model: str = DEFAULT_MODEL
    near_cache_entries: int = 0  # 0: the near cache is off (see cache/near.py)
    near_cache_bytes: int = 64 * 1024 * 1024
    source: Path | None = None

    def __post_init__(self) -> None:
        if self.hash_tag not in HASH_TAG_FORMS:  # the library's callers build Settings directly
            raise ConfigError(
                f"hash_tag {self.hash_tag!r} is not a key form",
                hint='use "always" (symbols as cluster hash tags) or "never"',
            )

    def price(self, model: str) -> ModelPrice:
        try:
            return self.prices[model]
        except KeyError:
            known = ", ".join(sorted(self.prices))
            raise ConfigError(f"unknown model {model!r}", hint=f"known models: {known}") from None


def user_config_path(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "llmcache" / "config.toml"


def find_config(explicit: str | None, env: Mapping[str, str] | None = None) -> tuple[Path | None, bool]:
    """Return (path, required). A required path that does not exist is an error."""
    env = os.environ if env is None else env
    if explicit is not None:
        if not explicit.strip():
            raise ConfigError("--config names no file (empty)", hint="give a path, or leave --config out")
        return Path(explicit), True
    if env.get("LLMCACHE_CONFIG"):
        return Path(env["LLMCACHE_CONFIG"]), True
    path = user_config_path(env)
    return (path, False) if path.is_file() else (None, False)


def load_settings(explicit: str | None = None, env: Mapping[str, str] | None = None) -> Settings:
    try:
        path, required = find_config(explicit, env)
        is_file = path is not None and path.is_file()
    except OSError as exc:  # e.g. a name too long for the file system
        raise ConfigError(
            f"cannot read config file: {exc.strerror}", hint="check --config / LLMCACHE_CONFIG"
        ) from None
    if path is None:
        return Settings()
    if not is_file:
        if required:
            raise ConfigError(f"config file not found: {path}", hint="check --config / LLMCACHE_CONFIG")
        return Settings()
    try:
        data = tomllib.loads(path.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"config file {path} is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    return settings_from_mapping(data, source=path)


def settings_from_mapping(data: Mapping[str, Any], source: Path | None = None) -> Settings:
    where = str(source) if source else "config"
    reader = _Reader(where)
    reader.only(data, "", {"ttl", "keys", "market", "prices", "redis", "cache"})

    ttl_data = reader.table(data, "ttl")
    reader.only(
        ttl_data,
        "ttl",
        {
            "policy",
            "flat_seconds",
            "by_type",
            "market_open",
            "market_closed",
            "volatile_symbols",
            "volatile_factor",
        },
    )
    defaults = TTLConfig()
    policy = reader.choice(ttl_data, "ttl.policy", "policy", POLICIES, defaults.policy)
    ttl = TTLConfig(
        policy=policy,
        flat_seconds=reader.positive_int(ttl_data, "ttl.flat_seconds", "flat_seconds", defaults.flat_seconds),
        by_type={**defaults.by_type, **reader.ttl_table(ttl_data, "ttl.by_type", "by_type")},
        market_open={**defaults.market_open, **reader.ttl_table(ttl_data, "ttl.market_open", "market_open")},
        market_closed={
            **defaults.market_closed,
            **reader.ttl_table(ttl_data, "ttl.market_closed", "market_closed"),
        },
        volatile_symbols=reader.str_set(
            ttl_data, "ttl.volatile_symbols", "volatile_symbols", defaults.volatile_symbols
        ),
        volatile_factor=reader.fraction(
            ttl_data, "ttl.volatile_factor", "volatile_factor", defaults.volatile_factor
        ),
    )

    keys = reader.table(data, "keys")
    reader.only(keys, "keys", {"stock_entities", "hash_tag", "namespaces"})
    cache = reader.table(data, "cache")
    reader.only(cache, "cache", {"version", "default_model", "near_cache_entries", "near_cache_bytes"})
    market = reader.table(data, "market")
    reader.only(market, "market", {"extra_closures"})
    redis_section = reader.table(data, "redis")
    reader.only(redis_section, "redis", {"timeout"})

    prices = dict(DEFAULT_PRICES)
    for model, entry in reader.table(data, "prices").items():
        name = f"prices.{model}"
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{where}: {name} must be a table with input_per_mtok and output_per_mtok")
        reader.only(entry, name, {"input_per_mtok", "output_per_mtok"})
        prices[model] = ModelPrice(
            reader.non_negative_float(entry, f"{name}.input_per_mtok", "input_per_mtok", None),
            reader.non_negative_float(entry, f"{name}.output_per_mtok", "output_per_mtok", None),
        )

    base = Settings()
    default_model = reader.string(cache, "cache.default_model", "default_model", base.default_model)
    if default_model not in prices:
        raise ConfigError(f"{where}: cache.default_model {default_model!r} has no entry in [prices]")
    return replace(
        base,
        ttl=ttl,
        stock_entities=reader.str_set(
            keys, "keys.stock_entities", "stock_entities", base.stock_entities, allow_empty=False
        ),
        hash_tag=reader.hash_tag(keys, base.hash_tag),
        cache_namespaces=reader.str_set(keys, "keys.namespaces", "namespaces", base.cache_namespaces),
        cache_version=reader.version(cache, "cache.version", "version", base.cache_version),
        timeout_seconds=reader.positive_float(
            redis_section, "redis.timeout", "timeout", base.timeout_seconds, maximum=MAX_TIMEOUT_SECONDS
        ),
        extra_closures=reader.dates(market, "market.extra_closures", "extra_closures"),
        prices=prices,
        default_model=default_model,
        near_cache_entries=reader.non_negative_int(
            cache, "cache.near_cache_entries", "near_cache_entries", base.near_cache_entries
        ),
        near_cache_bytes=max(
            1,
            reader.non_negative_int(
                cache, "cache.near_cache_bytes", "near_cache_bytes", base.near_cache_bytes
            ),
        ),
        source=source,
    )


class _Reader:
    """Typed access to a parsed TOML mapping, with errors that name the setting."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, name: str, expected: str, value: Any) -> ConfigError:
        return ConfigError(f"{self.where}: {name} must be {expected}, got {value!r}")

    def only(self, table: Mapping[str, Any], name: str, allowed: set[str]) -> None:
        unknown = sorted(set(table) - allowed)
        if unknown:
            prefix = f"{name}." if name else ""
            raise ConfigError(
                f"{self.where}: unknown setting {prefix}{unknown[0]}",
                hint="known: " + ", ".join(prefix + a for a in sorted(allowed)),
            )

    def table(self, data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        value = data.get(key, {})
        if not isinstance(value, Mapping):
            raise self.fail(key, "a table", value)
        return value

    def string(self, data: Mapping[str, Any], name: str, key: str, default: str) -> str:
        value = data.get(key, default)
        if not isinstance(value, str) or not value or ":" in value:
            raise self.fail(name, "a non-empty string without ':'", value)
        return value

    def hash_tag(self, keys: Mapping[str, Any], default: str) -> str:
        if keys.get("hash_tag") == "auto":
            raise ConfigError(
                f'{self.where}: keys.hash_tag = "auto" is no longer accepted: a key must not depend on '
                "the server it is sent to",
                hint='use "always" for a Redis Cluster (symbols become hash tags), "never" otherwise',
            )
        return self.choice(keys, "keys.hash_tag", "hash_tag", HASH_TAG_FORMS, default)

    def version(self, data: Mapping[str, Any], name: str, key: str, default: str) -> str:
        value = data.get(key, default)
        try:
            return check_version(value, name)
        except ConfigError as exc:
            raise ConfigError(f"{self.where}: {exc.message}", hint=exc.hint) from None

    def choice(
        self, data: Mapping[str, Any], name: str, key: str, options: tuple[str, ...], default: str
    ) -> str:
        value = data.get(key, default)
        if value not in options:
            raise self.fail(name, "one of " + ", ".join(options), value)
        return str(value)

    def positive_int(self, data: Mapping[str, Any], name: str, key: str, default: int) -> int:
        value = data.get(key, default)
        if not is_ttl(value):
            raise self.fail(name, TTL_RULE, value)
        return value

    def non_negative_int(self, data: Mapping[str, Any], name: str, key: str, default: int) -> int:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self.fail(name, "a whole number >= 0", value)
        return value

    def _number(self, data: Mapping[str, Any], name: str, key: str, default: float | None) -> float:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise self.fail(name, "a finite number", value)
        return float(value)

    def positive_float(
        self, data: Mapping[str, Any], name: str, key: str, default: float, maximum: float | None = None
    ) -> float:
        value = self._number(data, name, key, default)
        if not value > 0 or (maximum is not None and value > maximum):
            expected = "a positive number" + (f", at most {maximum:g}" if maximum is not None else "")
            raise self.fail(name, expected, value)
        return value

    def non_negative_float(
        self, data: Mapping[str, Any], name: str, key: str, default: float | None
    ) -> float:
        value = self._number(data, name, key, default)
        if not value >= 0:
            raise self.fail(name, "a number >= 0", value)
        return value

    def fraction(self, data: Mapping[str, Any], name: str, key: str, default: float) -> float:
        value = self._number(data, name, key, default)
        if not 0 < value <= 1:
            raise self.fail(name, "a number in (0, 1]", value)
        return value

    def str_set(
        self,
        data: Mapping[str, Any],
        name: str,
        key: str,
        default: frozenset[str],
        allow_empty: bool = True,
    ) -> frozenset[str]:
        value = data.get(key)
        if value is None:
            return default
        if not isinstance(value, list) or not all(isinstance(v, str) and v and ":" not in v for v in value):
            raise self.fail(name, "a list of non-empty strings without ':'", value)
        if not value and not allow_empty:
            raise self.fail(name, "a list of at least one name", value)
        return frozenset(value)

    def ttl_table(self, data: Mapping[str, Any], name: str, key: str) -> dict[str, int]:
        table = self.table(data, key)
        out: dict[str, int] = {}
        for data_type in table:
            if data_type not in DATA_TYPES:
                raise ConfigError(
                    f"{self.where}: {name}.{data_type} is not a data type",
                    hint="data types: " + ", ".join(DATA_TYPES),
                )
            out[data_type] = self.positive_int(table, f"{name}.{data_type}", data_type, 0)
        return out

    def dates(self, data: Mapping[str, Any], name: str, key: str) -> frozenset[dt.date]:
        value = data.get(key, [])
        if not isinstance(value, list):
            raise self.fail(name, "a list of dates", value)
        out = set()
        for item in value:
            if isinstance(item, dt.datetime) or not isinstance(item, (dt.date, str)):
                raise self.fail(name, "a list of dates (YYYY-MM-DD)", item)
            if isinstance(item, str):
                try:
                    item = dt.date.fromisoformat(item)
                except ValueError:
                    raise self.fail(name, "a list of dates (YYYY-MM-DD)", item) from None
            out.add(item)
        return frozenset(out)
