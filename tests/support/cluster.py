"""A real local Redis Cluster for the tests: 3 primaries with one replica each.

Six server processes (``tests.support.servers.REDIS_SERVER``: Redis or Valkey) with
``--cluster-enabled yes`` on free ports (whose bus ports, port + 10000, are free too), joined
with that server's own cli: ``redis-cli`` (or ``valkey-cli``) ``--cluster create ... --cluster-yes``.
"""

from __future__ import annotations

import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

from tests.support.servers import REDIS_CLI, RedisServer, free_port


@dataclass
class RedisClusterProcs:
    workdir: Path
    primaries: int = 3
    replicas_per_primary: int = 1
    password: str | None = None  # every node: --requirepass and --masterauth
    node_timeout_ms: int = 2000  # cluster-node-timeout: how soon a silent node is marked failed
    servers: list[RedisServer] = field(default_factory=list)

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.servers[0].port}/0"

    def start(self, timeout: float = 30.0) -> RedisClusterProcs:
        total = self.primaries * (1 + self.replicas_per_primary)
        ports: list[int] = []
        while len(ports) < total:
            port = free_port()
            if port not in ports and port + 10000 not in ports:
                ports.append(port)
        auth = ("--requirepass", self.password, "--masterauth", self.password) if self.password else ()
        try:
            for port in ports:
                server = RedisServer(
                    self.workdir / str(port),
                    port=port,
                    extra_args=(
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        "nodes.conf",
                        "--cluster-node-timeout",
                        str(self.node_timeout_ms),
                        *auth,
                    ),
                    password=self.password,
                )
                self.servers.append(server.start())
            subprocess.run(
                [
                    REDIS_CLI,
                    *(("--no-auth-warning", "-a", self.password) if self.password else ()),
                    "--cluster",
                    "create",
                    *[f"127.0.0.1:{p}" for p in ports],
                    "--cluster-replicas",
                    str(self.replicas_per_primary),
                    "--cluster-yes",
                ],
                check=True,
                capture_output=True,
                timeout=timeout,
            )
            self.wait_ok(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ok(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = []
            for server in self.servers:
                client = server.admin()
                try:
                    info = client.cluster("info")
                    states.append(
                        info.get("cluster_state") == "ok"
                        and int(info.get("cluster_slots_assigned", 0)) == 16384
                    )
                except redis.RedisError:
                    states.append(False)
                finally:
                    client.close()
            if all(states):
                return
            time.sleep(0.1)
        raise RuntimeError("the test cluster did not reach cluster_state:ok")

    def primary_servers(self) -> list[RedisServer]:
        out = []
        for server in self.servers:
            client = server.admin()
            try:
                if client.info("replication").get("role") == "master":
                    out.append(server)
            finally:
                client.close()
        return out

    def flushall(self) -> None:
        for server in self.primary_servers():
            client = server.admin()
            try:
                client.flushall()
            finally:
                client.close()

    def stop(self) -> None:
        for server in self.servers:
            if server.process is not None and server.process.poll() is None:
                server.process.send_signal(signal.SIGCONT)  # a paused node would ignore SIGTERM
            server.stop()
