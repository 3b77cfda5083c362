"""TTL policies (docs/design.md, "TTL semantics"): how long an entry of each data type may live.

- ``flat``: one TTL for everything.
- ``by-type``: the base table per data type (``[ttl.by_type]``).
- ``market-aware`` (the default): the market-open / market-closed tables where they have an
  entry for the type, else the base table; then multiplied by ``volatile_factor`` (0.5) for the
  volatile symbols, rounded down to whole seconds, at least 1. Only this policy does that.

A policy is evaluated when an entry is written (``ttl(data_type, symbol, at)``); ``max_ttl`` is
the longest TTL it can ever give a type, for "TTL longer than the policy allows" checks.
Unknown data types count as ``analysis``.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar, Protocol

from llmcache_cli.config import DATA_TYPES, DEFAULT_DATA_TYPE, POLICIES, Settings
from llmcache_cli.errors import UsageError
from llmcache_cli.keys import data_type_of
from llmcache_cli.limits import TTL_RULE, check_ttl, is_ttl
from llmcache_cli.market import MarketCalendar, Session, to_ny


class TTLPolicy(Protocol):
    @property
    def name(self) -> str: ...

    def ttl(self, data_type: str, symbol: str | None, at: dt.datetime) -> int:
        """Seconds for an entry written at ``at`` (aware)."""
        ...

    def max_ttl(self, data_type: str, symbol: str | None = None) -> int:
        """The largest TTL this policy can ever give ``data_type`` (for ``symbol``, if given)."""
        ...


def _lookup(table: Mapping[str, int], data_type: str) -> int:
    kind = data_type_of(data_type)
    return table[kind] if kind in table else table[DEFAULT_DATA_TYPE]


def _frozen_table(table: Mapping[str, int], what: str) -> Mapping[str, int]:
    if DEFAULT_DATA_TYPE not in table:
        raise ValueError(f"{what} needs an entry for {DEFAULT_DATA_TYPE!r}, the fallback type")
    for data_type, seconds in table.items():
        check_ttl(seconds, f"{what} TTL of {data_type}")
    return MappingProxyType(dict(table))


@dataclass(frozen=True)
class FlatPolicy:
    seconds: int
    name: ClassVar[str] = "flat"

    def __post_init__(self) -> None:
        check_ttl(self.seconds, "a flat TTL")

    def ttl(self, data_type: str, symbol: str | None, at: dt.datetime) -> int:
        return self.seconds

    def max_ttl(self, data_type: str, symbol: str | None = None) -> int:
        return self.seconds


@dataclass(frozen=True)
class ByTypePolicy:
    table: Mapping[str, int]
    name: ClassVar[str] = "by-type"

    def __post_init__(self) -> None:
        object.__setattr__(self, "table", _frozen_table(self.table, "by-type"))

    def ttl(self, data_type: str, symbol: str | None, at: dt.datetime) -> int:
        return _lookup(self.table, data_type)

    def max_ttl(self, data_type: str, symbol: str | None = None) -> int:
        return _lookup(self.table, data_type)


@dataclass(frozen=True)
class MarketAwarePolicy:
    """``when_open`` / ``when_closed`` are complete tables (the base table under the
    market-specific entries); ``make_policy`` builds them from the settings."""

    calendar: MarketCalendar
    when_open: Mapping[str, int]
    when_closed: Mapping[str, int]
    volatile_symbols: frozenset[str] = frozenset()
    volatile_factor: float = 0.5
    name: ClassVar[str] = "market-aware"

    def __post_init__(self) -> None:
        object.__setattr__(self, "when_open", _frozen_table(self.when_open, "market-open"))
        object.__setattr__(self, "when_closed", _frozen_table(self.when_closed, "market-closed"))
        object.__setattr__(self, "volatile_symbols", frozenset(self.volatile_symbols))
        if not 0 < self.volatile_factor <= 1:
            raise ValueError("volatile_factor must be in (0, 1]")

    def factor(self, symbol: str | None) -> float:
        """What the TTLs of ``symbol`` are multiplied by: ``volatile_factor`` or 1."""
        return self.volatile_factor if symbol in self.volatile_symbols else 1.0

    def _scaled(self, seconds: int, symbol: str | None) -> int:
        factor = self.factor(symbol)
        if factor == 1.0:
            return seconds
        # The epsilon keeps 0.3 * 900 at 270 despite binary floating point.
        return max(1, math.floor(seconds * factor + 1e-9))

    def ttl(self, data_type: str, symbol: str | None, at: dt.datetime) -> int:
        table = self.when_open if self.calendar.is_open(at) else self.when_closed
        return self._scaled(_lookup(table, data_type), symbol)

    def max_ttl(self, data_type: str, symbol: str | None = None) -> int:
        longest = max(_lookup(self.when_open, data_type), _lookup(self.when_closed, data_type))
        return self._scaled(longest, symbol)


def make_policy(
    settings: Settings,
    name: str | None = None,
    *,
    calendar: MarketCalendar | None = None,
    flat_seconds: int | None = None,
) -> TTLPolicy:
    """The policy called ``name`` (default: ``settings.ttl.policy``) configured from settings.

    ``flat_seconds`` (e.g. a ``--ttl`` flag) means a flat TTL of that many seconds: with no
    ``name`` it selects ``flat``; combined with another policy name it is a usage error.
    """
    if flat_seconds is not None:
        if not is_ttl(flat_seconds):
            raise UsageError(f"a flat TTL must be {TTL_RULE}, got {flat_seconds!r}")
        if name not in (None, "flat"):
            raise UsageError(
                f"a flat TTL ({flat_seconds} s) cannot be combined with policy {name!r}",
                hint="drop the TTL or use the flat policy",
            )
        return FlatPolicy(flat_seconds)
    chosen = settings.ttl.policy if name is None else name
    ttl = settings.ttl
    if chosen == "flat":
        return FlatPolicy(ttl.flat_seconds)
    if chosen == "by-type":
        return ByTypePolicy(ttl.by_type)
    if chosen == "market-aware":
        return MarketAwarePolicy(
            calendar=calendar if calendar is not None else MarketCalendar.from_settings(settings),
            when_open={**ttl.by_type, **ttl.market_open},
            when_closed={**ttl.by_type, **ttl.market_closed},
            volatile_symbols=ttl.volatile_symbols,
            volatile_factor=ttl.volatile_factor,
        )
    raise UsageError(f"unknown TTL policy {chosen!r}", hint="known policies: " + ", ".join(POLICIES))


# ---------------------------------------------------------------------------------------------
# What `llmcache policy` shows


@dataclass(frozen=True)
class PolicyReport:
    at: dt.datetime  # America/New_York
    policy: str
    symbol: str | None
    volatile: bool  # the symbol is on the volatile list
    volatile_factor: float  # what this policy multiplied its TTLs by (1.0: nothing)
    market_open: bool
    session: Session | None  # None: closed all day
    closure: str | None  # why it is closed all day
    ttl_seconds: Mapping[str, int]  # every data type, in DATA_TYPES order


def explain(
    settings: Settings,
    policy: TTLPolicy,
    calendar: MarketCalendar,
    at: dt.datetime,
    symbol: str | None = None,
) -> PolicyReport:
    """The market state at ``at`` and the TTL ``policy`` gives each data type for ``symbol``."""
    local = to_ny(at)
    factor = policy.factor(symbol) if isinstance(policy, MarketAwarePolicy) else 1.0
    return PolicyReport(
        at=local,
        policy=policy.name,
        symbol=symbol,
        volatile=symbol is not None and symbol in settings.ttl.volatile_symbols,
        volatile_factor=factor,
        market_open=calendar.is_open(local),
        session=calendar.session(local.date()),
        closure=calendar.closure_reason(local.date()),
        ttl_seconds={t: policy.ttl(t, symbol, local) for t in DATA_TYPES},
    )
