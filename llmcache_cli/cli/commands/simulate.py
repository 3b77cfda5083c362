"""``llmcache simulate``: what caching saves a trading bot, on a virtual clock (docs/simulate.md)."""

from __future__ import annotations

from typing import Annotated

import typer

from llmcache_cli.cli.app_context import app_context
from llmcache_cli.cli.options import JsonOpt
from llmcache_cli.cli.output import emit_json, note, stdout_console
from llmcache_cli.durations import parse_duration
from llmcache_cli.errors import UsageError
from llmcache_cli.simulation import scenario as sc

DEFAULT_START = sc.DEFAULT_START.isoformat()

HELP = """Simulate what caching saves a trading bot, on a virtual clock. Needs no Redis.

One request per symbol per data type every --interval, from the open while before the close,
for --days trading sessions (weekends and NYSE holidays skipped, half days shorter). Defaults:
the seed's scenario, 50 stocks every 15 minutes for one full trading day (2025-06-02), $0.01
per call, a flat 1-hour TTL, keys by symbol. Deterministic for a --seed.

Examples:

  llmcache simulate

  llmcache simulate --symbols AAPL,MSFT,TSLA --data-types technical,sentiment --policy market-aware

  llmcache simulate --symbols 500 --data-types all --interval 1m --days 21 --json

  llmcache simulate --compare --days 5

  llmcache simulate --trace bot-trace.jsonl --policy by-type

  llmcache simulate --populate redis://localhost:6379/0
"""


def _opt(flag: str, metavar: str, text: str) -> typer.models.OptionInfo:
    return typer.Option(flag, metavar=metavar, help=text, show_default=False)


WORKLOAD = "[not with --trace]"
SymbolsOpt = Annotated[
    str | None,
    _opt("--symbols", "N|LIST", f"A count of generated symbols, or AAPL,MSFT [default: 50] {WORKLOAD}"),
]
TypesOpt = Annotated[
    str | None,
    _opt("--data-types", "LIST", f"Data types, comma-separated, or all [default: analysis] {WORKLOAD}"),
]
IntervalOpt = Annotated[
    str | None, _opt("--interval", "DURATION", f"Time between cycles: 15m, 1m, 90s [default: 15m] {WORKLOAD}")
]
DaysOpt = Annotated[int | None, _opt("--days", "N", f"Trading days to simulate [default: 1] {WORKLOAD}")]
StartOpt = Annotated[
    str | None, _opt("--start", "DATE", f"First day, YYYY-MM-DD [default: {DEFAULT_START}] {WORKLOAD}")
]
TTLOpt = Annotated[str | None, _opt("--ttl", "SECONDS", "A flat TTL (3600, 1h, ...); implies --policy flat.")]
PolicyOpt = Annotated[
    str | None, _opt("--policy", "NAME", "TTL policy: flat, by-type or market-aware [default: flat, 1 h].")
]
StrategyOpt = Annotated[
    str | None,
    _opt(
        "--key-strategy",
        "NAME",
        f"symbol, data-hash, time-bucket or conditional [default: symbol] {WORKLOAD}",
    ),
]
CostOpt = Annotated[
    float | None, _opt("--cost-per-call", "USD", "Flat price of one LLM call [default: 0.01].")
]
ModelOpt = Annotated[str | None, _opt("--model", "NAME", "Price each call for this model instead.")]
InTokOpt = Annotated[
    int | None, _opt("--input-tokens", "N", "Input tokens per call with --model [default: 1200].")
]
OutTokOpt = Annotated[
    int | None, _opt("--output-tokens", "N", "Output tokens per call with --model [default: 300].")
]
LLMLatOpt = Annotated[
    int | None,
    _opt("--llm-latency-ms", "MS", "LLM call latency; answers are written this much later [default: 500]."),
]
CacheLatOpt = Annotated[
    float | None, _opt("--cache-latency-ms", "MS", "Cache round-trip latency [default: 5].")
]
SeedOpt = Annotated[int | None, _opt("--seed", "N", f"Seed of the modelled inputs [default: 1] {WORKLOAD}")]
CompareOpt = Annotated[
    bool,
    typer.Option("--compare", help="Every key strategy x TTL policy side by side (or those given)."),
]
MaxStaleOpt = Annotated[
    float | None,
    _opt("--max-stale-pct", "PCT", "With --compare: most stale hits the best run may have [default: 5]."),
]
TraceOpt = Annotated[str | None, _opt("--trace", "FILE", "Replay the library's JSON-lines request trace.")]
PopulateOpt = Annotated[
    str | None, _opt("--populate", "URL", "Write the end state (entries, TTLs, counters) into this Redis.")
]
EngineOpt = Annotated[
    str | None, _opt("--engine", "NAME", "auto, fast or reference (one request at a time) [default: auto].")
]


def simulate_command(
    ctx: typer.Context,
    symbols: SymbolsOpt = None,
    data_types: TypesOpt = None,
    interval: IntervalOpt = None,
    days: DaysOpt = None,
    start: StartOpt = None,
    ttl: TTLOpt = None,
    policy: PolicyOpt = None,
    key_strategy: StrategyOpt = None,
    cost_per_call: CostOpt = None,
    model: ModelOpt = None,
    input_tokens: InTokOpt = None,
    output_tokens: OutTokOpt = None,
    llm_latency_ms: LLMLatOpt = None,
    cache_latency_ms: CacheLatOpt = None,
    seed: SeedOpt = None,
    json_output: JsonOpt = False,
    compare_all: CompareOpt = False,
    max_stale_pct: MaxStaleOpt = None,
    trace: TraceOpt = None,
    populate: PopulateOpt = None,
    engine: EngineOpt = None,
) -> None:
    # Every option defaults to None and the defaults are filled in here, so that --help shows
    # them from the scenario module and the JSON is the same with or without them given.
    if llm_latency_ms is None:
        llm_latency_ms = sc.DEFAULT_LLM_LATENCY_MS
    if cache_latency_ms is None:
        cache_latency_ms = sc.DEFAULT_CACHE_LATENCY_MS
    app = app_context(ctx)
    settings = app.settings
    if compare_all and (trace is not None or populate is not None):
        raise UsageError("--compare runs many simulations: it cannot be combined with --trace or --populate")
    cost = sc.cost_model(settings, cost_per_call, model, input_tokens, output_tokens)
    flat_ttl = None if ttl is None else parse_duration(ttl, "--ttl")
    workload = {"--symbols": symbols, "--data-types": data_types, "--interval": interval, "--days": days}
    workload.update({"--start": start, "--key-strategy": key_strategy, "--seed": seed})
    if trace is not None:
        from llmcache_cli.simulation.replay import replay_file

        given = [flag for flag, value in workload.items() if value is not None]
        if given:
            raise UsageError(
                f"{given[0]} does not apply to --trace: the trace's requests and keys are replayed"
            )
        priced = cost if cost_per_call is not None or model is not None else None
        result = replay_file(
            trace,
            settings,
            policy=policy or sc.DEFAULT_POLICY,
            flat_ttl_seconds=flat_ttl,
            llm_latency_ms=llm_latency_ms,
            cache_latency_ms=cache_latency_ms,
            cost=priced,
        )
    else:
        scenario = sc.scenario_from_flags(
            symbols, data_types, interval, days, start, policy, flat_ttl, key_strategy, cost, seed,
            llm_latency_ms, cache_latency_ms,
        )  # fmt: skip
        if compare_all:
            from llmcache_cli.config import POLICIES
            from llmcache_cli.simulation.compare import compare, comparison_json

            strategies = (key_strategy,) if key_strategy else sc.KEY_STRATEGIES
            comparison = compare(
                scenario,
                settings,
                strategies,
                (policy,) if policy else POLICIES,
                sc.DEFAULT_MAX_STALE_PCT if max_stale_pct is None else max_stale_pct,
                "auto" if engine is None else engine,
            )
            if json_output:
                emit_json(comparison_json(comparison))
            else:
                from llmcache_cli.cli import render_simulation as render

                stdout_console().print(render.comparison(comparison))
            return
        from llmcache_cli.simulation.run import simulate

        result = simulate(scenario, settings, "auto" if engine is None else engine)
    if populate is not None:
        from llmcache_cli.simulation.populate import populate_redis

        done = populate_redis(result, populate, settings, app.options.timeout)
        kinds = f"{done.namespaces} data type" + ("s" if done.namespaces != 1 else "")
        note(f"populated {done.url}: {done.entries} entries, live counters for {kinds}")
    if json_output:
        from llmcache_cli.simulation.summary import to_json

        emit_json(to_json(result))
    else:
        from llmcache_cli.cli import render_simulation as render

        stdout_console().print(render.report(result))


def register(app: typer.Typer) -> None:
    app.command("simulate", help=HELP)(simulate_command)
