"""``llmcache invalidate`` and ``llmcache purge-version`` end to end, on the real server."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from llmcache_cli.cli import output
from llmcache_cli.cli.commands import invalidate as command
from llmcache_cli.envelope import encode_envelope
from llmcache_cli.keys import symbol_index_key
from tests.cli.conftest import Invoke, json_of

pytestmark = pytest.mark.redis

AAPL = {
    "analysis:stock:AAPL:v1",
    "sentiment:stock:{AAPL}:v1",
    "fundamental:stock:AAPL:h",
    "market:stock:AAPL:model:x",
}
NEIGHBOURS = {
    "analysis:stock:AAPLX:v1",
    "analysis:stock:aapl:v1",
    "analysis:stock:AAPL.X:v1",
    "analysis:stock:A*:v1",
    "analysis:stock:AAP?:v1",
    "analysis:stock:[AAPL]:v1",
    "analysis:news:AAPL:v1",
    "sentiment:news:abc123:v2",
    "llmcache:stats:analysis",
    "chatbot:stock:AAPL:model:x",  # not a namespace of the cache: untouched unless named
}


@pytest.fixture
def keys(real_redis: redis.Redis) -> set[bytes]:
    for key in AAPL | NEIGHBOURS:
        if key.endswith(":h"):
            real_redis.hset(key, "a", "1")
        else:
            real_redis.set(key, encode_envelope({"x": 1}, {"cost_usd": 0.5}))
    return keyspace(real_redis)


def keyspace(client: redis.Redis) -> set[bytes]:
    return set(client.scan_iter(count=1000))


def enc(keys: set[str]) -> set[bytes]:
    return {k.encode() for k in keys}


def test_yes_json_deletes_exactly_the_symbol(
    cli: Invoke, redis_url: str, real_redis: redis.Redis, keys: set[bytes]
) -> None:
    data = json_of(cli("--url", redis_url, "invalidate", "AAPL", "--yes", "--json"))
    assert (data["matched"], data["deleted"], data["dry_run"]) == (4, 4, False)
    assert data["regen_cost_usd"] == pytest.approx(1.5) and data["memory_bytes"] > 0
    assert data["method"] == "scan" and data["complete"] is True and data["data_types"] is None
    assert data["targets"][0]["target"] == "AAPL" and data["targets"][0]["deleted"] == 4
    assert set(data["sample_keys"]) == AAPL
    assert keyspace(real_redis) == keys - enc(AAPL)


def test_dry_run_deletes_nothing_and_matches_the_real_run(
    cli: Invoke, redis_url: str, real_redis: redis.Redis, keys: set[bytes]
) -> None:
    dry = json_of(cli("--url", redis_url, "invalidate", "AAPL", "--dry-run", "--json"))
    assert dry["dry_run"] is True and dry["deleted"] == 0
    assert keyspace(real_redis) == keys
    real = json_of(cli("--url", redis_url, "invalidate", "AAPL", "--yes", "--json"))
    assert dry["matched"] == real["matched"] == real["deleted"] == 4


def test_without_a_terminal_and_without_yes_nothing_is_deleted(
    cli: Invoke, redis_url: str, real_redis: redis.Redis, keys: set[bytes]
) -> None:
    for args in (["invalidate", "AAPL"], ["invalidate", "AAPL", "--json"], ["purge-version", "v1"]):
        result = cli("--url", redis_url, *args)
        assert result.exit_code == 2, result.output
        assert "refusing" in result.stderr and "--yes" in result.stderr and result.stdout == ""
        assert len(result.stderr.strip().splitlines()) == 1
    assert keyspace(real_redis) == keys


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(output, "stdin_is_terminal", lambda: True)


def test_on_a_terminal_it_asks_first(
    cli: Invoke, redis_url: str, real_redis: redis.Redis, keys: set[bytes], terminal: None
) -> None:
    declined = cli("--url", redis_url, "invalidate", "AAPL", input="n\n")
    # a declined confirmation is no error: one plain line, exit 1 (nothing was done)
    assert declined.exit_code == 1 and declined.stderr.rstrip().endswith("nothing deleted")
    assert "error" not in declined.stderr
    assert "About to delete 4 keys" in declined.stderr and "$1.50" in declined.stderr
    assert "Delete these 4 keys?" in declined.stderr and "Deleted" not in declined.stdout
    assert keyspace(real_redis) == keys
    accepted = cli("--url", redis_url, "invalidate", "AAPL", "--json", input="y\n")
    assert accepted.exit_code == 0, accepted.output
    # CliRunner echoes the typed answer onto stdout; a real terminal shows it on the tty.
    data = json.loads(accepted.stdout[accepted.stdout.index("{") :])
    assert (data["matched"], data["deleted"]) == (4, 4)
    assert keyspace(real_redis) == keys - enc(AAPL)


def test_nothing_matched_on_a_terminal_asks_nothing(
    cli: Invoke, redis_url: str, keys: set[bytes], terminal: None
) -> None:
    result = cli("--url", redis_url, "invalidate", "NOSUCH", "--json")
    data = json_of(result)
    assert (data["matched"], data["deleted"], data["dry_run"]) == (0, 0, False)
    assert "Delete these" not in result.stderr
    human = cli("--url", redis_url, "invalidate", "NOSUCH")
    assert human.exit_code == 0 and "No key matched" in human.stdout


def test_human_output(cli: Invoke, redis_url: str, keys: set[bytes]) -> None:
    dry = cli("--url", redis_url, "invalidate", "AAPL", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "Dry run: 4 keys would be deleted" in dry.stdout and "Nothing was deleted" in dry.stdout
    done = cli("--url", redis_url, "invalidate", "AAPL", "--yes")
    assert done.exit_code == 0 and "Deleted 4 of 4 matched keys" in done.stdout
    assert "$1.50 to regenerate" in done.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["invalidate", "A:B", "--yes"],
        ["invalidate", "{AAPL}", "--yes"],
        ["invalidate", "AAPL", "--type", "bogus", "--yes"],
        ["invalidate", "AAPL", "--event", "split", "--yes"],
        ["invalidate", "AAPL", "--type", "technical", "--event", "news", "--yes"],
        ["invalidate", "--pattern", "*", "--yes"],
        ["invalidate", "--pattern", "", "--yes"],
        ["invalidate", "--pattern", "**", "--dry-run"],
        ["invalidate", "AAPL", "--pattern", "analysis:*", "--yes"],
        ["invalidate", "AAPL", "--all", "--yes"],
        ["invalidate", "--yes"],
        ["invalidate", "AAPL", "--scan-count", "0", "--yes"],
        ["purge-version", "a:b", "--yes"],
        ["purge-version", "{v1", "--yes"],
        ["purge-version", "v1", "--namespace", "a:b", "--yes"],
    ],
)
def test_usage_errors_delete_nothing(
    cli: Invoke, redis_url: str, real_redis: redis.Redis, keys: set[bytes], args: list[str]
) -> None:
    result = cli("--url", redis_url, *args)
    assert result.exit_code == 2, result.output
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("llmcache: error:")
    assert keyspace(real_redis) == keys


def test_event_and_type_filters(
    cli: Invoke, redis_url: str, real_redis: redis.Redis, keys: set[bytes]
) -> None:
    news = json_of(cli("--url", redis_url, "invalidate", "AAPL", "--event", "news", "--yes", "--json"))
    assert news["deleted"] == 1 and news["data_types"] == ["sentiment"]
    assert keyspace(real_redis) == keys - {b"sentiment:stock:{AAPL}:v1"}
    typed = json_of(cli("--url", redis_url, "invalidate", "AAPL", "--type", "fundamental", "--yes", "--json"))
    assert typed["deleted"] == 1 and typed["data_types"] == ["fundamental"]
    earnings = json_of(
        cli("--url", redis_url, "invalidate", "AAPL", "--event", "earnings", "--yes", "--json")
    )
    assert earnings["deleted"] == 1  # analysis (chatbot is not the cache's, market not an earnings type)
    assert keyspace(real_redis) == keys - enc(AAPL - {"market:stock:AAPL:model:x"})


def test_pattern_and_all(cli: Invoke, redis_url: str, real_redis: redis.Redis, keys: set[bytes]) -> None:
    raw = json_of(
        cli("--url", redis_url, "invalidate", "--pattern", "analysis:stock:AAPL*", "--yes", "--json")
    )
    assert raw["deleted"] == 3 and raw["targets"][0]["kind"] == "pattern"
    everything = json_of(cli("--url", redis_url, "invalidate", "--pattern", "*", "--all", "--yes", "--json"))
    assert everything["deleted"] == len(keys) - 4
    assert keyspace(real_redis) == {b"llmcache:stats:analysis"}


def test_purge_version(cli: Invoke, redis_url: str, real_redis: redis.Redis, keys: set[bytes]) -> None:
    dry = json_of(cli("--url", redis_url, "purge-version", "v2", "--dry-run", "--json"))
    assert dry["matched"] == 1 and dry["targets"][0]["kind"] == "version"
    done = cli("--url", redis_url, "purge-version", "v1", "--namespace", "analysis", "--yes", "--json")
    data = json_of(done)
    assert data["deleted"] == 8 and "current cache version" in done.stderr
    assert keyspace(real_redis) == {
        k for k in keys if not (k.startswith(b"analysis:") and k.endswith(b":v1"))
    }


def test_index_is_used_and_scan_forces_the_full_scan(
    cli: Invoke, redis_url: str, real_redis: redis.Redis, keys: set[bytes]
) -> None:
    real_redis.sadd(symbol_index_key("AAPL"), *sorted(AAPL - {"fundamental:stock:AAPL:h"}))
    by_index = json_of(cli("--url", redis_url, "invalidate", "AAPL", "--yes", "--json"))
    assert by_index["method"] == "index" and by_index["deleted"] == 3
    assert keyspace(real_redis) == keys - enc(AAPL) | {b"fundamental:stock:AAPL:h"}
    by_scan = json_of(cli("--url", redis_url, "invalidate", "AAPL", "--scan", "--yes", "--json"))
    assert by_scan["method"] == "scan" and by_scan["deleted"] == 1
    assert keyspace(real_redis) == keys - enc(AAPL)


def pausing_progress(client: redis.Redis, on_call: int) -> Callable[..., contextlib.AbstractContextManager]:
    """A stand-in for scan_progress that pauses the server's writes part-way through."""

    @contextlib.contextmanager
    def fake(label: str, total: int | None) -> Iterator[Callable[[int], None]]:
        calls: list[int] = []

        def advance(n: int) -> None:
            calls.append(n)
            if len(calls) == on_call:
                client.execute_command("CLIENT", "PAUSE", 2000, "WRITE")

        yield advance

    return fake


def test_server_failure_half_way_exits_1_and_a_rerun_finishes(
    cli: Invoke, redis_url: str, real_redis: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipe = real_redis.pipeline(transaction=False)
    for i in range(1000):
        pipe.set(f"analysis:stock:AAPL:{i}", 1)
        pipe.set(f"analysis:stock:MSFT:{i}", 1)
    pipe.execute()
    monkeypatch.setattr(command, "scan_progress", pausing_progress(real_redis, on_call=3))
    try:
        failed = cli(
            "--url", redis_url, "--timeout", "0.5", "invalidate", "AAPL", "--scan-count", "100", "--yes"
        )
    finally:
        real_redis.execute_command("CLIENT", "UNPAUSE")
    assert failed.exit_code == 1, failed.output
    line = failed.stderr.strip()
    assert len(line.splitlines()) == 1 and "before the server failed" in line and "rerun" in line
    done = int(line.split("deleted ")[1].split(" of ")[0])
    assert 0 < done < 1000
    # What was said is what is known deleted. Redis 6.2 may still run the batch whose reply
    # timed out once the pause lifts (7.0+ and Valkey drop it with the closed connection).
    gone = 1000 - sum(k.startswith(b"analysis:stock:AAPL:") for k in keyspace(real_redis))
    assert done <= gone <= done + 100
    monkeypatch.undo()
    rerun = json_of(cli("--url", redis_url, "invalidate", "AAPL", "--yes", "--json"))
    assert rerun["deleted"] == 1000 - gone
    assert all(k.startswith(b"analysis:stock:MSFT:") for k in keyspace(real_redis))
    assert len(keyspace(real_redis)) == 1000


def test_commands_are_registered_with_help(cli: Invoke) -> None:
    for name in ("invalidate", "purge-version"):
        result = cli(name, "--help")
        assert result.exit_code == 0 and "Examples" in result.stdout and "not built yet" not in result.stdout


def test_other_namespaces_go_only_when_named(
    cli: Invoke, redis_url: str, real_redis: redis.Redis, keys: set[bytes], tmp_path: Path
) -> None:
    chatbot = b"chatbot:stock:AAPL:model:x"
    json_of(cli("--url", redis_url, "invalidate", "AAPL", "--yes", "--json"))
    assert chatbot in keyspace(real_redis)
    config = tmp_path / "llmcache.toml"
    config.write_text('[keys]\nnamespaces = ["chatbot"]\n')
    named = json_of(cli("--config", str(config), "--url", redis_url, "invalidate", "AAPL", "--yes", "--json"))
    assert named["deleted"] == 1 and chatbot not in keyspace(real_redis)
    real_redis.set(chatbot, "x")
    raw = json_of(cli("--url", redis_url, "invalidate", "--pattern", "chatbot:*", "--yes", "--json"))
    assert raw["deleted"] == 1 and chatbot not in keyspace(real_redis)


def test_a_symbol_in_the_wrong_case_gets_a_hint(
    cli: Invoke, redis_url: str, real_redis: redis.Redis, keys: set[bytes]
) -> None:
    real_redis.delete("analysis:stock:aapl:v1")
    result = cli("--url", redis_url, "invalidate", "aapl", "--dry-run")
    assert result.exit_code == 0 and "Dry run: no key matched." in result.stdout
    assert "hint: no key of 'aapl', but 'AAPL' has entries (symbols are case-sensitive)" in result.stderr
    assert keyspace(real_redis) == keys - {b"analysis:stock:aapl:v1"}
    one = cli("--url", redis_url, "invalidate", "AAPL", "--type", "fundamental", "--dry-run")
    assert "Dry run: 1 key would be deleted" in one.stdout and "hint" not in one.stderr


def test_purge_version_leaves_other_namespaces_unless_named(
    cli: Invoke, redis_url: str, real_redis: redis.Redis
) -> None:
    for key in ("analysis:stock:AAPL:v0", "chatbot:stock:AAPL:v0", "session:user:v0"):
        real_redis.set(key, "x")
    data = json_of(cli("--url", redis_url, "purge-version", "v0", "--yes", "--json"))
    assert data["deleted"] == 1 and keyspace(real_redis) == {b"chatbot:stock:AAPL:v0", b"session:user:v0"}
    named = json_of(
        cli("--url", redis_url, "purge-version", "v0", "--namespace", "chatbot", "--yes", "--json")
    )
    assert named["deleted"] == 1 and keyspace(real_redis) == {b"session:user:v0"}
