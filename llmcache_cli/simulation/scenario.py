"""What a simulation run is asked to do, validated: ``Scenario`` and its parsers.

Every parser raises ``UsageError`` with one line naming the bad value, so the CLI (and any
library caller) gets exit code 2 and a clear message. Defaults reproduce the seed's "real
trading scenario": 50 distinct stocks, every 15 minutes, one full trading day, $0.01 per call,
a flat one-hour TTL, keys by symbol.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from llmcache_cli.config import DATA_TYPES, DEFAULT_DATA_TYPE, POLICIES, Settings
from llmcache_cli.durations import parse_duration
from llmcache_cli.errors import UsageError
from llmcache_cli.keys import InvalidKeyPart, check_segment

KEY_STRATEGIES: tuple[str, ...] = ("symbol", "data-hash", "time-bucket", "conditional")
DEFAULT_SYMBOLS = 50
DEFAULT_INTERVAL = "15m"
# A fixed, documented full trading day (Monday 2 June 2025, 9:30-16:00 New York), so that the
# default run gives the same figures on any day it is run.
DEFAULT_START = dt.date(2025, 6, 2)
DEFAULT_POLICY = "flat"
DEFAULT_COST_PER_CALL = 0.01
DEFAULT_LLM_LATENCY_MS = 500
DEFAULT_CACHE_LATENCY_MS = 5.0
DEFAULT_SEED = 1
DEFAULT_INPUT_TOKENS = 1200
DEFAULT_OUTPUT_TOKENS = 300
MAX_DAYS = 10_000
MAX_SYMBOLS = 100_000
MAX_LLM_LATENCY_MS = 3_600_000  # an hour: longer "latency" is a typo, and would reach the next open
# Dates the market calendar and the input model handle well (and a long run from the last one
# still stays far from Python's year 9999); anything else is a typo.
MIN_START = dt.date(1900, 1, 1)
MAX_START = dt.date(2200, 12, 31)
MAX_COST_PER_CALL = 1000.0  # USD; more is a typo (and huge values overflow the totals)
DEFAULT_MAX_STALE_PCT = 5.0  # --compare: the most stale hits the best run may have

# Well-known large US stocks, in a fixed order: ``--symbols N`` takes the first N, then
# generated names. TSLA is among the first 50, so the volatile-symbol rules show by default.
KNOWN_SYMBOLS: tuple[str, ...] = (
    "AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "META", "TSLA", "BRK.B", "JPM", "V",
    "UNH", "XOM", "JNJ", "WMT", "MA", "PG", "AVGO", "HD", "CVX", "MRK",
    "LLY", "ABBV", "PEP", "KO", "COST", "ADBE", "CRM", "BAC", "MCD", "CSCO",
    "TMO", "ACN", "NFLX", "AMD", "ABT", "DIS", "WFC", "LIN", "DHR", "TXN",
    "INTC", "VZ", "CMCSA", "NKE", "PM", "ORCL", "NEE", "QCOM", "UPS", "RTX",
    "IBM", "CAT", "GS", "HON", "AMGN", "SBUX", "BA", "GE", "MMM", "T",
    "LOW", "SPGI", "INTU", "BLK", "AXP", "DE", "MDT", "PLD", "ISRG", "NOW",
    "GILD", "ADP", "SYK", "MDLZ", "TJX", "C", "CVS", "MO", "BKNG", "ZTS",
    "CB", "SO", "DUK", "MMC", "PGR", "CI", "BDX", "EOG", "SLB", "USB",
    "PNC", "ITW", "CL", "APD", "AON", "FDX", "GM", "F", "EMR", "NSC",
)  # fmt: skip
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@dataclass(frozen=True)
class CostModel:
    """What one LLM call costs: a flat ``per_call_usd``, or a model priced from the table."""

    per_call_usd: float
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None

    def describe(self) -> str:
        if self.model is None:
            return f"${self.per_call_usd:g} per call"
        return (
            f"{self.model}, {self.input_tokens} in / {self.output_tokens} out tokens "
            f"= ${self.per_call_usd:.6f} per call"
        )


@dataclass(frozen=True)
class Scenario:
    """A generated workload and the cache configuration to simulate on it."""

    symbols: tuple[str, ...]
    data_types: tuple[str, ...] = (DEFAULT_DATA_TYPE,)
    interval_seconds: int = 900
    days: int = 1
    start: dt.date = DEFAULT_START
    policy: str = DEFAULT_POLICY
    flat_ttl_seconds: int | None = None  # --ttl; None: the config's flat TTL (3600 by default)
    key_strategy: str = "symbol"
    cost: CostModel = CostModel(DEFAULT_COST_PER_CALL)
    llm_latency_ms: int = DEFAULT_LLM_LATENCY_MS
    cache_latency_ms: float = DEFAULT_CACHE_LATENCY_MS
    seed: int = DEFAULT_SEED

    def __post_init__(self) -> None:
        check_scenario(self)


def default_scenario() -> Scenario:
    return Scenario(symbols=generated_symbols(DEFAULT_SYMBOLS))


def check_scenario(s: Scenario) -> None:
    """The invariants every engine relies on; UsageError names the first one broken."""
    if not s.symbols:
        raise UsageError("at least one symbol is needed")
    if len(set(s.symbols)) != len(s.symbols):
        raise UsageError("the symbols must be distinct")
    if not s.data_types or len(set(s.data_types)) != len(s.data_types):
        raise UsageError("the data types must be distinct and at least one")
    for name in s.data_types:
        if name not in DATA_TYPES:
            raise UsageError(f"unknown data type {name!r}", hint="known: " + ", ".join(DATA_TYPES))
    _positive(s.interval_seconds, "interval (seconds)")
    _positive(s.days, "number of trading days")
    if not MIN_START <= s.start <= MAX_START:
        raise UsageError(
            f"--start must be between {MIN_START.isoformat()} and {MAX_START.isoformat()}, "
            f"got {s.start.isoformat()}"
        )
    if s.days > MAX_DAYS:
        raise UsageError(f"--days must be at most {MAX_DAYS}, got {s.days}")
    if s.policy not in POLICIES:
        raise UsageError(f"unknown TTL policy {s.policy!r}", hint="known: " + ", ".join(POLICIES))
    if s.flat_ttl_seconds is not None:
        _positive(s.flat_ttl_seconds, "TTL (seconds)")
        if s.policy != "flat":
            raise UsageError(
                f"--ttl gives a flat TTL; it cannot be combined with policy {s.policy!r}",
                hint="drop --ttl or use --policy flat",
            )
    if s.key_strategy not in KEY_STRATEGIES:
        raise UsageError(
            f"unknown key strategy {s.key_strategy!r}", hint="known: " + ", ".join(KEY_STRATEGIES)
        )
    if not 0 <= s.cost.per_call_usd < math.inf:
        raise UsageError(f"the cost per call must be a finite number >= 0, got {s.cost.per_call_usd}")
    if isinstance(s.llm_latency_ms, bool) or not isinstance(s.llm_latency_ms, int):
        raise UsageError(f"--llm-latency-ms must be a whole number, got {s.llm_latency_ms!r}")
    if not 0 <= s.llm_latency_ms <= MAX_LLM_LATENCY_MS:
        raise UsageError(
            f"--llm-latency-ms must be between 0 and {MAX_LLM_LATENCY_MS}, got {s.llm_latency_ms}"
        )
    if isinstance(s.seed, bool) or not isinstance(s.seed, int) or not 0 <= s.seed < 2**63:
        raise UsageError(f"--seed must be a whole number >= 0, got {s.seed!r}")
    if not s.cache_latency_ms >= 0:
        raise UsageError(f"--cache-latency-ms must be >= 0, got {s.cache_latency_ms}")


def _positive(value: object, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise UsageError(f"{what} must be a whole number greater than zero, got {value!r}")


# ---------------------------------------------------------------------------------------------
# Parsers for what people type


def generated_symbols(count: int) -> tuple[str, ...]:
    """``count`` distinct symbols: the well-known list first, then ``SAAA``, ``SAAB``, ..."""
    _positive(count, "--symbols")
    if count > MAX_SYMBOLS:
        raise UsageError(f"--symbols must be at most {MAX_SYMBOLS}, got {count}")
    out = list(KNOWN_SYMBOLS[:count])
    known = set(KNOWN_SYMBOLS)
    n = 0
    while len(out) < count:
        name, rest = "", n
        for _ in range(3):
            rest, digit = divmod(rest, len(_LETTERS))
            name = _LETTERS[digit] + name
        n += 1
        if "S" + name not in known:
            out.append("S" + name)
    return tuple(out)


def parse_symbols(text: str) -> tuple[str, ...]:
    """``"50"``: fifty generated symbols; ``"AAPL,MSFT"``: exactly those (case-sensitive)."""
    cleaned = text.strip()
    if cleaned.lstrip("+-").isdigit():
        return generated_symbols(int(cleaned))
    names = [part.strip() for part in cleaned.split(",")]
    seen: set[str] = set()
    for name in names:
        try:
            check_segment(name, "symbol")
        except InvalidKeyPart as exc:
            raise UsageError(
                f"--symbols: {exc}", hint="give a count such as 50 or a list AAPL,MSFT"
            ) from None
        if name in seen:
            raise UsageError(f"--symbols: {name!r} is given twice")
        seen.add(name)
    return tuple(names)


def parse_data_types(text: str) -> tuple[str, ...]:
    """A comma-separated list of data types, or ``all``."""
    if text.strip() == "all":
        return DATA_TYPES
    names = [part.strip() for part in text.split(",")]
    for name in names:
        if name not in DATA_TYPES:
            raise UsageError(
                f"unknown data type {name!r}", hint="known: " + ", ".join(DATA_TYPES) + ", or all"
            )
    if len(set(names)) != len(names):
        raise UsageError("--data-types: a data type is given twice")
    return tuple(names)


def parse_interval(text: str) -> int:
    return parse_duration(text, "--interval")


def parse_date(text: str, what: str = "--start") -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"{what} {text!r} is not a date", hint="use YYYY-MM-DD, e.g. 2025-06-02") from None


def scenario_from_flags(
    symbols: str | None,
    data_types: str | None,
    interval: str | None,
    days: int | None,
    start: str | None,
    policy: str | None,
    flat_ttl_seconds: int | None,
    key_strategy: str | None,
    cost: CostModel,
    seed: int | None,
    llm_latency_ms: int,
    cache_latency_ms: float,
) -> Scenario:
    """A scenario from command-line text; None means the default."""
    return Scenario(
        symbols=parse_symbols(symbols) if symbols is not None else generated_symbols(DEFAULT_SYMBOLS),
        data_types=parse_data_types(data_types) if data_types is not None else (DEFAULT_DATA_TYPE,),
        interval_seconds=parse_interval(interval if interval is not None else DEFAULT_INTERVAL),
        days=1 if days is None else days,
        start=DEFAULT_START if start is None else parse_date(start),
        policy=policy or DEFAULT_POLICY,
        flat_ttl_seconds=flat_ttl_seconds,
        key_strategy=key_strategy or "symbol",
        cost=cost,
        llm_latency_ms=llm_latency_ms,
        cache_latency_ms=cache_latency_ms,
        seed=DEFAULT_SEED if seed is None else seed,
    )


def cost_model(
    settings: Settings,
    cost_per_call: float | None,
    model: str | None,
    input_tokens: int | None,
    output_tokens: int | None,
) -> CostModel:
    """``--cost-per-call`` (default $0.01), or ``--model`` with token counts priced from the table."""
    if model is None:
        if input_tokens is not None or output_tokens is not None:
            raise UsageError("--input-tokens/--output-tokens need --model")
        per_call = DEFAULT_COST_PER_CALL if cost_per_call is None else cost_per_call
        if not 0 <= per_call <= MAX_COST_PER_CALL:
            raise UsageError(
                f"--cost-per-call must be >= 0 and <= {MAX_COST_PER_CALL:g} (USD), got {per_call}"
            )
        return CostModel(per_call)
    if cost_per_call is not None:
        raise UsageError("give either --cost-per-call or --model, not both")
    tokens_in = DEFAULT_INPUT_TOKENS if input_tokens is None else input_tokens
    tokens_out = DEFAULT_OUTPUT_TOKENS if output_tokens is None else output_tokens
    for value, flag in ((tokens_in, "--input-tokens"), (tokens_out, "--output-tokens")):
        if value < 0:
            raise UsageError(f"{flag} must be >= 0, got {value}")
    price = settings.price(model)  # ConfigError (exit 2) names the known models
    return CostModel(price.cost(tokens_in, tokens_out), model, tokens_in, tokens_out)
