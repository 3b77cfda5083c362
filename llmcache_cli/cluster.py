"""Is this server a Redis (or Valkey) Cluster node? Detected by itself, from ``INFO cluster``.

``INFO cluster`` first; if an ACL refuses INFO, ``CLUSTER INFO``; if that is refused too, an
``EXISTS`` probe over the hash slots (a cluster node answers MOVED for the slots it does not
serve). The client module calls this once per connection; the library's async client too.
"""

from __future__ import annotations

from typing import Any

import redis
import redis.asyncio
import redis.exceptions as rex
from redis.crc import key_slot

from llmcache_cli.errors import PermissionDenied


def cluster_enabled(info: Any) -> bool | None:
    """What an ``INFO cluster`` or ``CLUSTER INFO`` reply (or error) says: True, False, or None
    when it cannot tell (the command was refused by an ACL)."""
    if refused(info):
        return None
    if isinstance(info, rex.ResponseError):
        return False  # "cluster support disabled" (CLUSTER INFO), or a server without it
    if isinstance(info, (bytes, str)):  # CLUSTER INFO through a plain client: unparsed text
        info = _parse_info_text(info if isinstance(info, bytes) else info.encode())
    if isinstance(info, dict):
        if "cluster_enabled" in info:  # INFO cluster
            return bool(info["cluster_enabled"])
        return "cluster_state" in info  # CLUSTER INFO answered: a cluster node
    return False


def refused(reply: Any) -> bool:
    return isinstance(reply, rex.NoPermissionError) or (
        isinstance(reply, rex.ResponseError) and str(reply).startswith("NOPERM")
    )


DETECT_COMMANDS = (("INFO", "cluster"), ("CLUSTER", "INFO"))
# Last resort when an ACL refuses INFO and CLUSTER (e.g. ``-@dangerous``): EXISTS (``@read``) on
# keys spread over the 16384 hash slots. A cluster node answers MOVED for the slots it does not
# serve, so a node that serves only part of the cluster is found out; one that serves every
# slot is, for scanning, the whole data set anyway.
PROBE_RANGES = 32


def _probe_keys() -> list[bytes]:
    width = 16384 // PROBE_RANGES
    found: dict[int, bytes] = {}
    n = 0
    while len(found) < PROBE_RANGES:
        key = f"llmcache:cluster-probe:{n}".encode()
        found.setdefault(key_slot(key) // width, key)
        n += 1
    return [found[i] for i in sorted(found)]


def _moved(replies: list[Any]) -> bool | None:
    if any(isinstance(r, rex.MovedError) or str(r).startswith("MOVED") for r in replies):
        return True
    if any(refused(r) for r in replies):
        return None
    return False


def detect_cluster(client: redis.Redis, where: str = "this server") -> bool:
    """``INFO cluster``; if an ACL refuses INFO, ``CLUSTER INFO``; if that is refused too, the
    EXISTS probe. Guessing "single server" on a cluster would scan one node and miss the rest,
    so when nothing can tell it is an error."""
    for command in DETECT_COMMANDS:
        try:
            reply: Any = client.execute_command(*command)
        except rex.ResponseError as exc:
            reply = exc
        found = cluster_enabled(reply)
        if found is not None:
            return found
    pipe = client.pipeline(transaction=False)
    for key in _probe_keys():
        pipe.exists(key)
    found = _moved(pipe.execute(raise_on_error=False))
    if found is not None:
        return found
    raise PermissionDenied(
        f"cannot tell whether {where} is a Redis Cluster: INFO, CLUSTER INFO and EXISTS are refused",
        hint="pass --cluster or --no-cluster, or allow INFO for this ACL user",
    )


async def detect_cluster_async(client: redis.asyncio.Redis) -> bool | None:
    """``detect_cluster`` for the library: None when nothing can tell (the library then
    assumes a single server and says so in a warning rather than failing)."""
    for command in DETECT_COMMANDS:
        try:
            reply: Any = await client.execute_command(*command)
        except rex.ResponseError as exc:
            reply = exc
        found = cluster_enabled(reply)
        if found is not None:
            return found
    pipe = client.pipeline(transaction=False)
    for key in _probe_keys():
        pipe.exists(key)
    return _moved(list(await pipe.execute(raise_on_error=False)))


def _parse_info_text(raw: bytes) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in raw.decode("utf-8", "replace").splitlines():
        name, sep, value = line.partition(":")
        if sep:
            out[name.strip()] = value.strip()
    return out


def replica_addresses(reply: Any) -> list[tuple[str, int]]:
    """(host, port) of every replica a ``CLUSTER NODES`` reply lists, raw text or parsed by
    redis-py; nodes without an address (``noaddr``, ``handshake``) are left out."""
    if isinstance(reply, dict):
        rows = [(address, info.get("flags", "")) for address, info in reply.items()]
    else:
        text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
        rows = [
            (line.split()[1].split("@")[0], line.split()[2])
            for line in text.splitlines()
            if len(line.split()) > 2
        ]
    out = []
    for address, flags in rows:
        names = set(str(flags).split(","))
        host, _, port = address.rpartition(":")
        if "slave" in names and not names & {"noaddr", "handshake"} and host and port.isdigit():
            out.append((host, int(port)))
    return sorted(out)
