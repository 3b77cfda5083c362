"""Server identity and newer-server features, on whichever server the suite runs against
(``make test-servers``: Redis 6.2, Redis 7.0, Valkey 8.1): each checked against what the binary
itself says (``--version``) or does (the command tried by hand), never against a version table."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest
import redis
import redis.exceptions as rex

from llmcache_cli.client import FEATURES, detect_features
from llmcache_cli.diagnostics.serverinfo import server_identity
from tests.cli.conftest import Invoke, json_of
from tests.support.servers import REDIS_SERVER

pytestmark = pytest.mark.redis


def binary_says() -> tuple[str, str]:
    """("redis" or "valkey", version) from ``<server> --version``: "Valkey server v=8.1.8 ..."."""
    words = subprocess.run([REDIS_SERVER, "--version"], capture_output=True, text=True, check=True).stdout
    first, *rest = words.split()
    return first.lower(), next(w[2:] for w in rest if w.startswith("v="))


def test_stats_json_names_the_product_and_its_own_version(cli: Invoke, redis_url: str) -> None:
    """On Valkey: "valkey" and 8.1.x (not the 7.2.4 it keeps in redis_version for clients)."""
    product, version = binary_says()
    server = json_of(cli("--url", redis_url, "stats", "--json"))["server"]
    assert (server["product"], server["version"], server["mode"]) == (product, version, "standalone")
    prometheus = cli("--url", redis_url, "stats", "--format", "prometheus").stdout
    assert f'product="{product}"' in prometheus and f'version="{version}"' in prometheus


def test_a_cluster_is_named_and_called_a_cluster(cli: Invoke, cluster_url: str) -> None:
    product, version = binary_says()
    data = json_of(cli("--url", cluster_url, "stats", "--json"))
    assert (data["server"]["product"], data["server"]["version"]) == (product, version)
    assert data["server"]["mode"] == "cluster" and data["server"]["nodes"] == 3
    assert {n["product"] for n in data["nodes"]} == {product}


@pytest.mark.parametrize(
    ("info", "expected"),
    [
        ({"redis_version": "6.2.14", "redis_mode": "standalone"}, ("redis", "6.2.14", "standalone")),
        (
            {
                "redis_version": "7.2.4",
                "server_name": "valkey",
                "valkey_version": "8.1.8",
                "server_mode": "cluster",
            },
            ("valkey", "8.1.8", "cluster"),
        ),
        (
            {"redis_version": "7.2.4", "server_name": "valkey", "valkey_version": "8.1.8"},
            ("valkey", "8.1.8", "standalone"),
        ),
    ],
)
def test_identity_reads_either_servers_fields(info: dict[str, Any], expected: tuple[str, str, str]) -> None:
    assert server_identity(info) == expected


def tried(client: redis.Redis, *command: str | int) -> bool:
    """Whether the server knows ``command``: it ran, or refused it for any reason but not
    knowing it (NOSCRIPT, wrong arguments of a known subcommand...)."""
    try:
        client.execute_command(*command)
    except rex.ResponseError as exc:
        text = str(exc).lower()
        return not (
            "unknown" in text or "syntax error" in text or "wrong number of arguments for 'expire'" in text
        )
    except TypeError:  # redis-py's COMMAND reply parser on an answer it does not expect: it ran
        return True
    return True


TRIALS: dict[str, tuple[str | int, ...]] = {
    "expire_nx_gt": ("EXPIRE", "llmcache:feature-trial", 10, "NX"),
    "eval_ro": ("EVALSHA_RO", "0" * 40, 0),
    "function": ("FUNCTION", "LIST"),
    "client_no_evict": ("CLIENT", "NO-EVICT", "off"),
    "client_setinfo": ("CLIENT", "SETINFO", "LIB-NAME", "llmcache-test"),
    "latency_histogram": ("LATENCY", "HISTOGRAM", "get"),
}


def test_features_are_what_the_server_does_when_tried(real_redis: redis.Redis) -> None:
    """Each detected feature agrees with trying the command on this server; EXPIRE NX/GT may be
    unknown (None) only on a server that has no COMMAND DOCS to describe it."""
    assert set(TRIALS) == {f.name for f in FEATURES}
    found = detect_features(real_redis)
    has_docs = tried(real_redis, "COMMAND", "DOCS", "get")
    for name, command in TRIALS.items():
        detected = found.has(name)
        if name == "expire_nx_gt" and detected is None:
            assert not has_docs
            continue
        assert detected is tried(real_redis, *command), (name, detected)
    assert real_redis.exists("llmcache:feature-trial") == 0  # the trial wrote nothing
