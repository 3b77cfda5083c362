"""The README's "Use with Anthropic / OpenAI" snippets, run as written (the SDK clients get a
mocked HTTP transport and a test key; the cache is the test redis-server), and its
"Monitoring" commands and scrape config checked against the real command and rules."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml

from tests.integrations.conftest import FakeAPI, anthropic, json_response, openai

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start:end]


def blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


SDK = section("Use with Anthropic / OpenAI")
SNIPPETS = dict(zip(("anthropic", "openai"), blocks(SDK, "python"), strict=True))


def run_snippet(code: str) -> dict[str, Any]:
    """The snippet as the body of a coroutine (it uses top-level await), its variables returned."""
    source = "async def __snippet():\n" + textwrap.indent(code, "    ") + "    return locals()\n"
    namespace: dict[str, Any] = {}
    exec(compile(source, "README.md", "exec"), namespace)

    async def twice() -> dict[str, Any]:
        first = await namespace["__snippet"]()
        await first["cache"].aclose()
        second = await namespace["__snippet"]()
        await second["cache"].aclose()
        return {"first": first, "second": second}

    return asyncio.run(twice())


@pytest.mark.redis
@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_sdk_snippet_runs(
    provider: str, redis_url: str, real_redis: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.integrations.conftest import ANTHROPIC_MESSAGE, OPENAI_COMPLETION

    code = SNIPPETS[provider]
    statements = [line for line in code.splitlines() if line.strip() and not line.startswith(" ")]
    assert len(statements) == 5, code  # five lines each (a call may continue on the next line)
    api = FakeAPI(
        lambda body: json_response(ANTHROPIC_MESSAGE if provider == "anthropic" else OPENAI_COMPLETION)
    )
    module, name = (anthropic, "AsyncAnthropic") if provider == "anthropic" else (openai, "AsyncOpenAI")
    real = getattr(module, name)

    class Client(real):  # type: ignore[misc, valid-type]
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(api_key="sk-test", http_client=api.http_client(), max_retries=0, **kwargs)

    monkeypatch.setattr(module, name, Client)
    monkeypatch.setenv("LLMCACHE_REDIS_URL", redis_url)
    monkeypatch.delenv("LLMCACHE_CONFIG", raising=False)
    runs = run_snippet(code)
    assert api.calls == 1  # the second run was a hit
    answer = "msg" if provider == "anthropic" else "reply"
    assert runs["second"][answer] == runs["first"][answer]
    assert runs["second"]["cache"].stats.hits == 1
    symbol = "AAPL" if provider == "anthropic" else "MSFT"
    assert list(real_redis.scan_iter(f"sentiment:stock:{symbol}:*"))


MONITORING = section("Monitoring")


def test_monitoring_commands_use_real_options() -> None:
    (commands,) = blocks(MONITORING, "sh")
    for line in commands.splitlines():
        args = line.split("#")[0].split()
        assert args[0] == "llmcache"
        help_text = subprocess.run(
            [sys.executable, "-m", "llmcache_cli", args[1], "--help"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for option in (a for a in args[2:] if a.startswith("--")):
            assert option in help_text, (line, option)
    assert "--listen 127.0.0.1:9808" in commands


def test_scrape_config_matches_the_rules_and_the_exporter() -> None:
    from llmcache_cli.cli.commands.exporter import DEFAULT_LISTEN

    (config_text,) = blocks(MONITORING, "yaml")
    config = yaml.safe_load(config_text)
    (job,) = config["scrape_configs"]
    assert job["static_configs"][0]["targets"] == [DEFAULT_LISTEN]
    rules = ROOT / config["rule_files"][0]
    assert rules.exists()
    assert f'up{{job="{job["job_name"]}"}}' in rules.read_text()  # the exporter-down rule names this job
    for linked in re.findall(r"\]\((deploy/[^)]+)\)", MONITORING):
        assert (ROOT / linked).exists(), linked
