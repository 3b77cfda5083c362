"""A small trading bot that caches its LLM analyses with llmcache.

The "LLM" here is a stand-in that sleeps 50 ms and reports token usage, so the example runs
anywhere; swap ``FakeLLM`` for a real client. Run it against any Redis:

    LLMCACHE_REDIS_URL=redis://localhost:6379/0 python examples/trading_bot.py
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from llmcache_cli import CacheService, cached, record_usage

WATCHLIST = ["AAPL", "MSFT", "NVDA", "TSLA", "AMZN", "GOOGL", "META", "JPM"]


class FakeLLM:
    """Answers after 50 ms, like a (very fast) LLM, and says how many tokens it used."""

    def __init__(self) -> None:
        self.calls = 0

    async def analyse(self, prompt: str) -> dict[str, Any]:
        self.calls += 1
        await asyncio.sleep(0.05)
        return {"text": f"analysis of {prompt[:40]}", "input_tokens": 1200, "output_tokens": 300}


class Analyst:
    def __init__(self, cache: CacheService, llm: FakeLLM) -> None:
        self.cache = cache  # @cached finds the service on the instance
        self.llm = llm

    @cached(data_type="fundamental")
    async def fundamentals(self, symbol: str, metrics: dict[str, float]) -> dict[str, Any]:
        reply = await self.llm.analyse(f"{symbol} fundamentals {metrics}")
        record_usage(
            model="claude-sonnet-4-5",
            input_tokens=reply["input_tokens"],
            output_tokens=reply["output_tokens"],
        )
        return {"symbol": symbol, "view": reply["text"]}

    @cached(data_type="sentiment")
    async def sentiment(self, symbol: str) -> dict[str, Any]:
        reply = await self.llm.analyse(f"{symbol} news sentiment")
        record_usage(
            model="claude-haiku-4-5", input_tokens=reply["input_tokens"], output_tokens=reply["output_tokens"]
        )
        return {"symbol": symbol, "score": 0.2}


async def main(cycles: int = 3) -> None:
    rng = random.Random(1)
    llm = FakeLLM()
    async with CacheService() as cache:
        bot = Analyst(cache, llm)
        for cycle in range(cycles):
            jobs = []
            for symbol in WATCHLIST:
                metrics = {"pe_ratio": round(20 + rng.random(), 0), "revenue_growth": 0.08}
                jobs += [bot.fundamentals(symbol, metrics), bot.sentiment(symbol)]
            await asyncio.gather(*jobs)
            print(f"cycle {cycle + 1}: {len(jobs)} analyses, {llm.calls} LLM calls so far")
        print()
        print(cache.stats.report())


if __name__ == "__main__":
    asyncio.run(main())
