"""A password never appears in output (issue 8, docs/design.md, "Connecting"): across every command, on the
success and the failure paths, in JSON, in tables, in --debug tracebacks, in the library's logs
and exceptions, whether it came from --url, a command's --url, LLMCACHE_REDIS_URL, REDIS_URL or
a ``password=`` query parameter, and also when it holds characters that break URL parsing.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from llmcache_cli import CacheService, cached
from llmcache_cli.config import Settings
from llmcache_cli.errors import LLMCacheError
from tests.cli.conftest import Invoke
from tests.reliability.conftest import ENVELOPE, SilentListener, cli_env, run_cli
from tests.support.servers import RedisServer, free_port

pytestmark = pytest.mark.redis

PASSWORD = "Sup3r-S3cret!"
# What must never be printed: the password, its URL-encoded form, and its distinctive halves
# (a parser that cuts a URL inside the password must not quote the first half).
FORBIDDEN = (PASSWORD, quote(PASSWORD, safe=""), "Sup3r", "S3cret")


@pytest.fixture(scope="module")
def secret_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(
        tmp_path_factory.mktemp("secret"), extra_args=("--requirepass", PASSWORD), password=PASSWORD
    ).start()
    admin = server.admin()
    admin.set("analysis:stock:AAPL:v1", ENVELOPE, ex=600)
    admin.set("analysis:stock:MSFT:v1", ENVELOPE, ex=600)
    admin.close()
    yield server
    server.stop()


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in FORBIDDEN:
            assert secret not in text, f"{secret!r} leaked: ...{text[max(0, text.find(secret) - 80) :][:200]}"


def good(server: RedisServer) -> str:
    return f"redis://:{PASSWORD}@127.0.0.1:{server.port}/0"


def good_encoded(server: RedisServer) -> str:
    return f"redis://default:{quote(PASSWORD, safe='')}@127.0.0.1:{server.port}/0"


SUCCEEDING = [
    ["stats", "--json"],
    ["stats"],
    ["stats", "--format", "prometheus"],
    ["ttl", "--json"],
    ["ttl"],
    ["large-keys", "--json"],
    ["large-keys"],
    ["get", "analysis:stock:AAPL:v1", "--json"],
    ["get", "analysis:stock:AAPL:v1"],
    ["invalidate", "AAPL", "--dry-run", "--json"],
    ["invalidate", "AAPL", "--dry-run"],
    ["invalidate", "NOPE", "--yes", "--json"],
    ["purge-version", "v9", "--yes", "--json"],
    ["policy", "--json"],
]


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
@pytest.mark.parametrize("how", ["flag", "flag-encoded", "command-flag", "LLMCACHE_REDIS_URL", "REDIS_URL"])
def test_every_command_succeeds_without_printing_the_password(
    cli: Invoke, secret_server: RedisServer, how: str, debug: bool
) -> None:
    """Each command, with the password in the URL however it is given: exit 0, and neither the
    password nor its encoded form in stdout or stderr."""
    url = good_encoded(secret_server) if how == "flag-encoded" else good(secret_server)
    for command in SUCCEEDING:
        pre = ["--debug"] if debug else []
        env = {}
        if how.startswith("flag"):
            args = [*pre, "--url", url, *command]
        elif how == "command-flag":
            args = [*pre, *command, "--url", url] if command[0] != "policy" else [*pre, *command]
        else:
            env = {how: url}
            args = [*pre, *command]
        result = cli(*args, env=env)
        assert result.exit_code == 0, (command, result.stderr)
        assert_no_secret(result.stdout, result.stderr)


FAILING_CASES = [
    "wrong-password",
    "wrong-user",
    "refused",
    "silent",
    "query-password",
    "unknown-parameter",
    "bad-port",
    "bad-db",
    "db-out-of-range",
    "unencoded-hash",
    "unencoded-slash",
    "unencoded-question",
    "unencoded-bracket",
    "tls-to-plain",
]


def failing_urls(server: RedisServer, silent_port: int) -> dict[str, str]:
    port = server.port
    return {
        "wrong-password": f"redis://:{PASSWORD}x@127.0.0.1:{port}/0",
        "wrong-user": f"redis://nobody:{PASSWORD}@127.0.0.1:{port}/0",
        "refused": f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0",
        "silent": f"redis://:{PASSWORD}@127.0.0.1:{silent_port}/0",
        "query-password": f"redis://127.0.0.1:{free_port()}/0?password={quote(PASSWORD)}",
        "unknown-parameter": f"redis://:{PASSWORD}@127.0.0.1:{port}/0?colour=blue",
        "bad-port": f"redis://:{PASSWORD}@127.0.0.1:port/0",
        "bad-db": f"redis://:{PASSWORD}@127.0.0.1:{port}/x",
        "db-out-of-range": f"redis://:{PASSWORD}@127.0.0.1:{port}/99",
        "unencoded-hash": f"redis://:Sup3r#S3cret@127.0.0.1:{port}/0",
        "unencoded-slash": f"redis://:Sup3r/S3cret@127.0.0.1:{port}/0",
        "unencoded-question": f"redis://u:Sup3r?S3cret@127.0.0.1:{port}/0",
        "unencoded-bracket": f"redis://:Sup3r[S3cret@127.0.0.1:{port}/0",
        "tls-to-plain": f"rediss://:{PASSWORD}@127.0.0.1:{port}/0",
    }


FAILING_COMMANDS = [
    ["stats", "--json"],
    ["ttl", "--json"],
    ["large-keys", "--json"],
    ["get", "analysis:stock:AAPL:v1", "--json"],
    ["invalidate", "AAPL", "--yes", "--json"],
    ["purge-version", "v1", "--yes"],
]


@pytest.mark.parametrize("case", FAILING_CASES)
def test_failures_name_the_url_without_the_password(
    cli: Invoke, secret_server: RedisServer, silent: SilentListener, case: str
) -> None:
    """Every failure (authentication, refused, silent, malformed URL, TLS mismatch), with and
    without --debug, for every command: exit 1 or 2, and no trace of the password."""
    urls = failing_urls(secret_server, silent.port)
    assert list(urls) == FAILING_CASES
    url = urls[case]
    for command in FAILING_COMMANDS[:1] if case in ("silent", "tls-to-plain") else FAILING_COMMANDS:
        for pre in ([], ["--debug"]):
            result = cli(*pre, "--url", url, "--timeout", "0.5", *command)
            assert result.exit_code in (1, 2), (case, command, result.stderr)
            assert_no_secret(result.stdout, result.stderr)
            if not pre:
                assert "llmcache: error:" in result.stderr and "***" in result.stderr


def test_populate_url_is_redacted(cli: Invoke, secret_server: RedisServer) -> None:
    """``simulate --populate URL`` carries a password too: success and failure stay clean."""
    ok = cli("simulate", "--symbols", "3", "--populate", good(secret_server), "--json")
    assert ok.exit_code == 0, ok.stderr
    bad = cli(
        "--debug",
        "simulate",
        "--symbols",
        "3",
        "--populate",
        f"redis://:{PASSWORD}x@127.0.0.1:{secret_server.port}/0",
    )
    assert bad.exit_code == 1
    assert_no_secret(ok.stdout, ok.stderr, bad.stdout, bad.stderr)


def test_a_real_process_with_debug_and_logging(secret_server: RedisServer, tmp_path: Path) -> None:
    """The console script as a subprocess (real stderr, Python's own last-resort logging):
    a --debug traceback and the library's warnings during --populate carry no password."""
    env = cli_env(tmp_path, LLMCACHE_REDIS_URL=f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0")
    failed = run_cli(["--debug", "--timeout", "0.5", "stats", "--json"], env)
    assert failed.code == 1 and "Traceback" in failed.stderr
    assert_no_secret(failed.stdout, failed.stderr)
    wrong = f"redis://:{PASSWORD}x@127.0.0.1:{secret_server.port}/0"
    populate = run_cli(["--debug", "simulate", "--symbols", "2", "--populate", wrong], env)
    assert populate.code == 1
    assert_no_secret(populate.stdout, populate.stderr)


def test_library_logs_and_errors_never_show_the_password(
    secret_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """CacheService with a wrong password, a dead server and a silent one: every log line
    (DEBUG included), every repr and every exception is redacted; results still come back."""
    caplog.set_level(logging.DEBUG, logger="llmcache_cli")
    urls = [
        f"redis://:{PASSWORD}x@127.0.0.1:{secret_server.port}/0",
        f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0",
        f"redis://127.0.0.1:{free_port()}/0?password={quote(PASSWORD)}",
    ]

    async def go(url: str) -> list[object]:
        cache = CacheService(url, settings=Settings(), timeout=0.3)

        @cached(ttl=60, cache=cache)
        async def analyze(symbol: str) -> str:
            return symbol

        try:
            out: list[object] = [await analyze("AAPL"), await cache.set("analysis:stock:X:v1", 1, ttl=5)]
            out += [await cache.get("analysis:stock:X:v1"), repr(cache), str(cache.options.url.redacted)]
            return out
        finally:
            await cache.aclose()

    with SilentListener() as silent:
        urls.append(f"redis://:{PASSWORD}@127.0.0.1:{silent.port}/0")
        for url in urls:
            out = asyncio.run(go(url))
            assert out[:3] == ["AAPL", False, None]
            assert_no_secret(*map(str, out))
    assert "***" in caplog.text
    assert_no_secret(caplog.text)
    for bad in (f"redis://:{PASSWORD}@h:6379/0?colour=blue", "redis://:Sup3r#S3cret@h:6379/0"):
        with pytest.raises(LLMCacheError) as info:
            CacheService(bad)
        assert_no_secret(str(info.value), info.value.one_line())
