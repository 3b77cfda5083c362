"""The bad-input matrix (issue 8): every command and option given empty, very long, unicode and
glob-character text; zero, negative, non-finite and huge numbers; malformed durations, dates
and URLs; missing, empty, corrupt and binary config and trace files.

Each case must end as docs/design.md ("Errors and exit codes") says: exit 2 for a usage error
(the user's input is wrong) or 1 for an operational one (the server said no), one line on
stderr, no traceback, and no change to the data in Redis. Odd input that is valid (a symbol
``*`` is data, not a pattern) must succeed and print valid JSON, again without touching
anything it should not.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.cli.conftest import Invoke
from tests.reliability.conftest import assert_fails_cleanly, error_line, keyspace, short
from tests.support.servers import free_port

pytestmark = pytest.mark.redis

LONG = "A" * 100_000
HUGE = "9" * 30
ENVELOPE = json.dumps({"result": {"signal": "buy"}, "meta": {"cost_usd": 0.02}})


@pytest.fixture
def data(redis_url: str, real_redis: redis.Redis) -> str:
    """A small keyspace with every shape of value the commands meet."""
    for symbol in ("AAPL", "AAPLX", "aapl", "*", "日本", "A?B"):
        real_redis.set(f"analysis:stock:{symbol}:v1", ENVELOPE, ex=3600)
    real_redis.set("sentiment:news:abc:v1", json.dumps([1, 2]))
    real_redis.set("technical:stock:MSFT:v2", "not json")
    real_redis.set(b"raw:\xff\xfe", b"\x00\x01\xff")
    real_redis.hset("analysis:stock:TSLA:v1", mapping={"a": "1"})
    real_redis.hset("llmcache:stats:analysis", mapping={"hits": 3, "misses": 1})
    real_redis.sadd("llmcache:index:stock:{AAPL}", "analysis:stock:AAPL:v1")
    return redis_url


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    """Config and trace files, good and bad, by name."""
    made: dict[str, bytes] = {
        "empty": b"",
        "blank": b"\n\n   \n",
        "corrupt.toml": b"ttl = [\n",
        "binary": bytes(range(256)) * 4,
        "latin1": "[ttl]\npolicy = 'flat' # \xe9t\xe9\n".encode("latin-1"),
        "unknown.toml": b"[nonsense]\nx = 1\n",
        "wrongtype.toml": b"[ttl]\nflat_seconds = 'an hour'\n",
        "zero_ttl.toml": b"[ttl.by_type]\nanalysis = 0\n",
        "huge_ttl.toml": b"[ttl]\nflat_seconds = 9223372036854775807\n",
        "inf_timeout.toml": b"[redis]\ntimeout = inf\n",
        "nan_factor.toml": b"[ttl]\nvolatile_factor = nan\n",
        "inf_price.toml": b"[prices.m]\ninput_per_mtok = inf\noutput_per_mtok = 1.0\n",
        "no_entities.toml": b"[keys]\nstock_entities = []\n",
        "bad_date.toml": b'[market]\nextra_closures = ["2024-02-30"]\n',
        "trace_corrupt.jsonl": b'{"ts": "2024-07-03T10:00:00Z"\n',
        "trace_list.jsonl": b"[1, 2]\n",
        "trace_object.jsonl": b"{}\n",
    }
    out = {}
    for name, content in made.items():
        path = tmp_path / name
        path.write_bytes(content)
        out[name] = str(path)
    out["missing"] = str(tmp_path / "no-such-file")
    out["directory"] = str(tmp_path)
    out["long"] = str(tmp_path / ("x" * 5000))
    return out


def expand(args: tuple[str, ...], url: str, files: dict[str, str]) -> list[str]:
    out = []
    for arg in args:
        if arg.startswith("file:"):
            arg = files[arg[5:]]
        out.append(arg.replace("{url}", url).replace("{dead}", str(free_port())))
    return out


def strict_json(text: str) -> Any:
    """JSON as other programs read it: NaN and Infinity are not JSON."""

    def refuse(name: str) -> Any:
        raise ValueError(f"{name} in --json output")

    return json.loads(text, parse_constant=refuse)


U = "{url}"
# (arguments, expected exit code). "{url}" is the test server with data, "file:NAME" a file.
USAGE: list[tuple[str, ...]] = [
    # global options: URLs
    ("--url", "", "stats"),
    ("--url", "   ", "stats"),
    ("--url", "http://cache:6379", "stats"),
    ("--url", "redis://", "stats"),
    ("--url", "redis://h:99999", "stats"),
    ("--url", "redis://h:abc/0", "stats"),
    ("--url", "redis://h:0", "stats"),
    ("--url", "redis://h/abc", "stats"),
    ("--url", "redis://h/0?db=x", "stats"),
    ("--url", "redis://h/0?foo=1", "stats"),
    ("--url", "redis://h/0?protocol=9", "stats"),
    ("--url", "redis://h/0?ssl_ca_certs=/ca.pem", "stats"),
    ("--url", "redis://[::1", "stats"),
    ("--url", "unix://", "stats"),
    ("--url", "redis://" + "h" * 300 + ":6379/0", "stats"),
    ("--url", "redis://:pa#ss@127.0.0.1:6379/0", "stats"),
    ("--url", "✓://h", "stats"),
    # global options: timeout and config
    ("--url", U, "--timeout", "0", "stats"),
    ("--url", U, "--timeout", "-1", "stats"),
    ("--url", U, "--timeout", "abc", "stats"),
    ("--url", U, "--timeout", "", "stats"),
    ("--url", U, "--timeout", "nan", "stats"),
    ("--url", U, "--timeout", "inf", "stats"),
    ("--url", U, "--timeout", "1e12", "stats"),
    ("--config", "", "policy"),
    ("--config", "file:missing", "policy"),
    ("--config", "file:directory", "policy"),
    ("--config", "file:long", "policy"),
    ("--config", "file:corrupt.toml", "policy"),
    ("--config", "file:binary", "policy"),
    ("--config", "file:latin1", "policy"),
    ("--config", "file:unknown.toml", "policy"),
    ("--config", "file:wrongtype.toml", "policy"),
    ("--config", "file:zero_ttl.toml", "policy"),
    ("--config", "file:huge_ttl.toml", "policy"),
    ("--config", "file:inf_timeout.toml", "--url", U, "stats"),
    ("--config", "file:nan_factor.toml", "policy"),
    ("--config", "file:inf_price.toml", "policy"),
    ("--config", "file:no_entities.toml", "--url", U, "invalidate", "AAPL", "--yes"),
    ("--config", "file:bad_date.toml", "policy"),
    ("--no-such-option", "stats"),
    ("no-such-command",),
    # stats
    ("--url", U, "stats", "--sample", "0"),
    ("--url", U, "stats", "--sample", "-1"),
    ("--url", U, "stats", "--sample", "ten"),
    ("--url", U, "stats", "--sample", "9" * 5000),
    ("--url", U, "stats", "--watch", "0"),
    ("--url", U, "stats", "--watch", "-1"),
    ("--url", U, "stats", "--watch", "nan"),
    ("--url", U, "stats", "--watch", "inf", "--count", "2", "--json"),
    ("--url", U, "stats", "--watch", "1e308", "--count", "2", "--json"),
    ("--url", U, "stats", "--url", "", "--json"),
    ("--url", U, "stats", "--count", "0"),
    ("--url", U, "stats", "--format", "xml"),
    ("--url", U, "stats", "--format", ""),
    # ttl
    ("--url", U, "ttl", "--symbol", ""),
    ("--url", U, "ttl", "--symbol", "a:b"),
    ("--url", U, "ttl", "--symbol", "{AAPL}"),
    ("--url", U, "ttl", "--symbol", "A\x07B"),
    ("--url", U, "ttl", "--sample", "0"),
    ("--url", U, "ttl", "--limit", "-1"),
    ("--url", U, "ttl", "--policy", "bogus"),
    ("--url", U, "ttl", "--policy", ""),
    # large-keys
    ("--url", U, "large-keys", "--top", "0"),
    ("--url", U, "large-keys", "--top", "-3"),
    ("--url", U, "large-keys", "--top", "10001"),
    ("--url", U, "large-keys", "--top", HUGE),
    ("--url", U, "large-keys", "--top", "1.5"),
    ("--url", U, "large-keys", "--samples", "-1"),
    # get
    ("--url", U, "get"),
    ("--url", U, "get", "k", "--max-items", "0"),
    ("--url", U, "get", "k", "--max-items", "-1"),
    # invalidate
    ("--url", U, "invalidate", "--yes"),
    ("--url", U, "invalidate", "", "--yes"),
    ("--url", U, "invalidate", "a:b", "--yes"),
    ("--url", U, "invalidate", "{AAPL}", "--yes"),
    ("--url", U, "invalidate", "AA\nPL", "--yes"),
    ("--url", U, "invalidate", LONG + ":x", "--yes"),
    ("--url", U, "invalidate", "AAPL", "--type", "bogus", "--yes"),
    ("--url", U, "invalidate", "AAPL", "--type", "", "--yes"),
    ("--url", U, "invalidate", "AAPL", "--event", "split", "--yes"),
    ("--url", U, "invalidate", "--pattern", "", "--yes"),
    ("--url", U, "invalidate", "--pattern", "*", "--yes"),
    ("--url", U, "invalidate", "--pattern", "**", "--yes"),
    ("--url", U, "invalidate", "--pattern", "?*", "--yes"),
    ("--url", U, "invalidate", "AAPL", "--pattern", "analysis:*", "--yes"),
    ("--url", U, "invalidate", "AAPL", "--all", "--yes"),
    ("--url", U, "invalidate", "AAPL", "--scan-count", "0", "--yes"),
    ("--url", U, "invalidate", "AAPL", "--scan-count", "-5", "--yes"),
    ("--url", U, "invalidate", "AAPL", "--scan-count", HUGE, "--yes"),
    ("--url", U, "invalidate", "AAPL"),  # no terminal and no --yes: refuses
    # purge-version
    ("--url", U, "purge-version", "", "--yes"),
    # (a version is any key segment [cache] version accepts: "1", "v-1", "2024-06" are fine)
    ("--url", U, "purge-version", "v1:x", "--yes"),
    ("--url", U, "purge-version", "{v1", "--yes"),
    ("--url", U, "purge-version", "v1}", "--yes"),
    ("--url", U, "purge-version", "v1\x01", "--yes"),
    ("--url", U, "purge-version", "v1", "--namespace", "", "--yes"),
    ("--url", U, "purge-version", "v1", "--namespace", "a:b", "--yes"),
    ("--url", U, "purge-version", "v1"),
    # policy
    ("policy", "--at", ""),
    ("policy", "--at", "yesterday"),
    ("policy", "--at", "2024-13-01"),
    ("policy", "--at", "2024-02-30T10:00"),
    ("policy", "--at", "99999-01-01"),
    ("policy", "--at", "9999-12-31T23:00"),
    ("policy", "--at", "0001-01-01T00:00+14:00"),
    ("policy", "--at", "2024-03-10T02:30"),
    ("policy", "--at", "2024-11-03T01:30"),
    ("policy", "--at", LONG),
    ("policy", "--symbol", ""),
    ("policy", "--symbol", "a:b"),
    ("policy", "--policy", "bogus"),
    # simulate
    ("simulate", "--symbols", "0"),
    ("simulate", "--symbols", "-1"),
    ("simulate", "--symbols", ""),
    ("simulate", "--symbols", ",,,"),
    ("simulate", "--symbols", HUGE),
    ("simulate", "--symbols", "A:B"),
    ("simulate", "--symbols", "AAPL,AAPL"),
    ("simulate", "--days", "0"),
    ("simulate", "--days", "-1"),
    ("simulate", "--days", HUGE),
    ("simulate", "--days", "one"),
    ("simulate", "--interval", "0"),
    ("simulate", "--interval", "-5m"),
    ("simulate", "--interval", "5 minutes"),
    ("simulate", "--interval", ""),
    ("simulate", "--interval", HUGE + "w"),
    ("simulate", "--start", "2024-02-30"),
    ("simulate", "--start", ""),
    ("simulate", "--start", "99999-01-01"),
    ("simulate", "--start", "9999-12-31"),
    ("simulate", "--start", "0001-01-01"),
    ("simulate", "--ttl", "0"),
    ("simulate", "--ttl", "-1"),
    ("simulate", "--ttl", "1x"),
    ("simulate", "--cost-per-call", "-0.01"),
    ("simulate", "--cost-per-call", "nan"),
    ("simulate", "--cost-per-call", "inf", "--json"),
    ("simulate", "--cost-per-call", "1e308", "--json"),
    ("simulate", "--llm-latency-ms", "-1"),
    ("simulate", "--llm-latency-ms", HUGE),
    ("simulate", "--cache-latency-ms", "nan"),
    ("simulate", "--seed", "-1"),
    ("simulate", "--seed", HUGE),
    ("simulate", "--model", "bogus"),
    ("simulate", "--model", "gpt-4o", "--input-tokens", "-1"),
    ("simulate", "--policy", "bogus"),
    ("simulate", "--key-strategy", "bogus"),
    ("simulate", "--data-types", "bogus"),
    ("simulate", "--data-types", ""),
    ("simulate", "--compare", "--max-stale-pct", "-1"),
    ("simulate", "--compare", "--max-stale-pct", "nan"),
    ("simulate", "--engine", "bogus"),
    ("simulate", "--populate", ""),
    ("simulate", "--populate", "http://x"),
    ("simulate", "--trace", ""),
    ("simulate", "--trace", "file:missing"),
    ("simulate", "--trace", "file:directory"),
    ("simulate", "--trace", "file:long"),
    ("simulate", "--trace", "file:empty"),
    ("simulate", "--trace", "file:blank"),
    ("simulate", "--trace", "file:binary"),
    ("simulate", "--trace", "file:latin1"),
    ("simulate", "--trace", "file:trace_corrupt.jsonl"),
    ("simulate", "--trace", "file:trace_list.jsonl"),
    ("simulate", "--trace", "file:trace_object.jsonl"),
    ("simulate", "--compare", "--trace", "file:trace_object.jsonl"),
]
OPERATIONAL: list[tuple[str, ...]] = [
    ("--url", "redis://127.0.0.1:{dead}/0", "--timeout", "1", "stats"),
    ("--url", "redis://no-such-host.invalid:6379/0", "--timeout", "1", "stats"),
    ("--url", "unix:///no/such/redis.sock", "stats"),
    ("--url", "rediss://127.0.0.1:{dead}/0?ssl_ca_certs=/no/such/ca.pem", "--timeout", "1", "stats"),
    ("--url", "{url}", "get", "no-such-key"),
    ("--url", "{url}", "get", ""),
    ("--url", "{url}", "get", LONG),
    ("--url", "{url}", "get", "analysis:stock:*:v*"),  # a key, not a pattern: no such key
]
# Odd but valid: must succeed, print strict JSON, and (dry runs) delete nothing.
ACCEPTED: list[tuple[str, ...]] = [
    ("--url", U, "invalidate", "*", "--dry-run", "--json"),
    ("--url", U, "invalidate", "A?B", "--dry-run", "--json"),
    ("--url", U, "invalidate", "[A-Z]*", "--dry-run", "--json"),
    ("--url", U, "invalidate", "\\", "--dry-run", "--json"),
    ("--url", U, "invalidate", "日本", "--dry-run", "--json"),
    ("--url", U, "invalidate", LONG, "--dry-run", "--json"),
    ("--url", U, "invalidate", "--pattern", "[", "--dry-run", "--json"),
    ("--url", U, "purge-version", "v" + HUGE, "--dry-run", "--json"),
    ("--url", U, "purge-version", "v1", "--namespace", "日本", "--dry-run", "--json"),
    ("--url", U, "ttl", "--symbol", "*", "--json"),
    ("--url", U, "ttl", "--symbol", "日本", "--json"),
    ("--url", U, "ttl", "--pattern", "[", "--json"),
    ("--url", U, "ttl", "--pattern", LONG, "--json"),
    ("--url", U, "ttl", "--key", "", "--json"),
    ("--url", U, "ttl", "--sample", HUGE, "--json"),
    ("--url", U, "large-keys", "--pattern", "*\\", "--json"),
    ("--url", U, "large-keys", "--samples", HUGE, "--json"),
    ("--url", U, "stats", "--sample", HUGE, "--json"),
    ("--url", U, "get", "analysis:stock:日本:v1", "--json"),
    ("--url", U, "get", "analysis:stock:*:v1", "--json"),
    ("--config", "file:empty", "policy", "--json"),
    ("--config", "file:blank", "policy", "--json"),
    ("policy", "--symbol", "日本", "--json"),
    ("policy", "--symbol", "*", "--json"),
    ("policy", "--at", "0001-01-03T10:00", "--json"),
    ("simulate", "--symbols", "日本,*,?", "--json"),
    ("simulate", "--symbols", "2", "--model", "gpt-4o", "--input-tokens", HUGE, "--json"),
]


def check_case(cli: Invoke, real_redis: redis.Redis, url: str, files: dict[str, str], args: list[str]) -> Any:
    before = keyspace(real_redis)
    result = cli(*expand(tuple(args), url, files))
    assert keyspace(real_redis) == before, "the data changed"
    return result


def _id(args: tuple[str, ...]) -> str:
    text = " ".join(a if len(a) < 30 else a[:12] + f"...({len(a)})" for a in args if a not in ("--url", U))
    return text.replace("\n", "\\n").replace("\x07", "\\a") or "(empty)"


@pytest.mark.parametrize("args", USAGE, ids=[_id(a) for a in USAGE])
def test_usage_errors_exit_2(
    cli: Invoke, data: str, real_redis: redis.Redis, files: dict[str, str], args: tuple[str, ...]
) -> None:
    """Wrong input from the user: exit 2, one line, no traceback, nothing changed."""
    result = check_case(cli, real_redis, data, files, list(args))
    assert_fails_cleanly(result, 2)
    assert result.stdout == ""


@pytest.mark.parametrize("args", OPERATIONAL, ids=[_id(a) for a in OPERATIONAL])
def test_operational_errors_exit_1(
    cli: Invoke, data: str, real_redis: redis.Redis, files: dict[str, str], args: tuple[str, ...]
) -> None:
    """Well-formed input the server (or network) cannot satisfy: exit 1, one line."""
    result = check_case(cli, real_redis, data, files, list(args))
    line = assert_fails_cleanly(result, 1)
    assert "internal error" not in line


@pytest.mark.parametrize("args", ACCEPTED, ids=[_id(a) for a in ACCEPTED])
def test_odd_but_valid_input_succeeds(
    cli: Invoke, data: str, real_redis: redis.Redis, files: dict[str, str], args: tuple[str, ...]
) -> None:
    """Unicode, glob characters, huge numbers that are still meaningful: exit 0, valid JSON,
    no traceback, nothing changed."""
    result = check_case(cli, real_redis, data, files, list(args))
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.stderr
    strict_json(result.stdout)


def test_a_glob_symbol_matches_only_itself(cli: Invoke, data: str, real_redis: redis.Redis) -> None:
    """``invalidate '*'`` previews exactly the key whose symbol is the character '*'."""
    result = cli("--url", data, "invalidate", "*", "--dry-run", "--json")
    assert strict_json(result.stdout)["matched"] == 1
    result = cli("--url", data, "invalidate", "A?B", "--dry-run", "--json")
    assert strict_json(result.stdout)["sample_keys"] == ["analysis:stock:A?B:v1"]


RAW = "raw:\udcff\udcfe"  # what Python makes of the bytes ff fe in a shell argument


@pytest.mark.parametrize(
    "args",
    [
        ("--url", U, "get", RAW, "--json"),
        ("--url", U, "ttl", "--key", RAW, "--json"),
        ("--url", U, "large-keys", "--pattern", RAW, "--json"),
        ("--url", U, "invalidate", "--pattern", RAW, "--dry-run", "--json"),
    ],
    ids=["get", "ttl-key", "large-keys-pattern", "invalidate-pattern"],
)
def test_non_utf8_key_arguments(
    cli: Invoke, data: str, real_redis: redis.Redis, files: dict[str, str], args: tuple[str, ...]
) -> None:
    """A key that is not UTF-8 (it exists: ``raw:\\xff\\xfe``) typed in a shell is used as
    those bytes, or refused as a usage error, never an internal error."""
    result = check_case(cli, real_redis, data, files, list(args))
    assert result.exit_code in (0, 2), short(result.stderr)
    assert "internal error" not in result.stderr


LONG_INPUTS = [
    ("--url", U, "get", LONG),
    ("--url", U, "invalidate", LONG + ":x", "--yes"),
    ("--url", U, "invalidate", "AAPL", "--type", LONG, "--yes"),
    ("--url", U, "stats", "--format", LONG),
    ("policy", "--at", LONG),
    ("policy", "--policy", LONG),
    ("simulate", "--start", LONG),
    ("simulate", "--model", LONG),
]


def test_error_lines_stay_short_with_huge_input(cli: Invoke, data: str, files: dict[str, str]) -> None:
    """One clear line means a readable one: no error line longer than 1,000 characters."""
    lengths = {}
    for args in LONG_INPUTS:
        result = cli(*expand(args, data, files))
        assert result.exit_code in (1, 2)
        lengths[_id(args)] = len(error_line(result.stderr))
    assert max(lengths.values()) <= 1000, lengths
