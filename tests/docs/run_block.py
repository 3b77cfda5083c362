"""Run one Python block of the docs: ``python run_block.py FILE [GIVEN...]``.

A block without given names runs as a program. ``llm`` is a stand-in for an Anthropic-style
client (``await llm.messages.create(...)`` returns a reply with ``usage`` and ``content``).
``cache`` is an open ``CacheService`` (URL from the environment, as for the CLI); a block given
it may use ``await`` at top level, as in ``python -m asyncio``.
"""

from __future__ import annotations

import ast
import asyncio
import sys
from types import SimpleNamespace
from typing import Any


class StandInMessages:
    def __init__(self) -> None:
        self.calls = 0

    async def create(self, **request: Any) -> SimpleNamespace:
        self.calls += 1
        await asyncio.sleep(0.01)
        return SimpleNamespace(
            usage=SimpleNamespace(input_tokens=900, output_tokens=300),
            content=[SimpleNamespace(text=f"stand-in answer to {request.get('messages')!r}")],
        )


class StandInLLM:
    def __init__(self) -> None:
        self.messages = StandInMessages()


async def run_with_cache(code: Any, namespace: dict[str, Any]) -> None:
    from llmcache_cli import CacheService

    async with CacheService() as cache:
        namespace["cache"] = cache
        result = eval(code, namespace)
        if result is not None:
            await result


def main(path: str, given: list[str]) -> None:
    with open(path, encoding="utf-8") as file:
        source = file.read()
    namespace: dict[str, Any] = {"__name__": "__main__"}
    if "llm" in given:
        namespace["llm"] = StandInLLM()
    unknown = set(given) - {"llm", "cache"}
    if unknown:
        raise SystemExit(f"run_block: no stand-in for {sorted(unknown)}")
    if "cache" in given:
        code = compile(source, path, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
        asyncio.run(run_with_cache(code, namespace))
    else:
        exec(compile(source, path, "exec"), namespace)
    if "llm" in given and namespace["llm"].messages.calls == 0:
        raise SystemExit("run_block: the block was given an LLM and never called it")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
