"""Real redis-server processes for the tests, on free loopback ports.

Nothing here is mocked: each ``RedisServer`` is the Debian ``redis-server`` binary, started in a
temporary directory with persistence off, and stopped at the end of the test session.
"""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import redis

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port(max_port: int = 55535) -> int:
    """A free TCP port on 127.0.0.1 whose cluster bus port (port + 10000) is free too."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port > max_port:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair found")


@dataclass
class RedisServer:
    workdir: Path
    port: int = 0
    extra_args: Sequence[str] = ()
    password: str | None = None  # passed as --requirepass, and used by admin()
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        if not Path(REDIS_SERVER).exists():
            raise RuntimeError("redis-server not found: run 'make test', which installs it")
        self.port = self.port or free_port()
        self.workdir.mkdir(parents=True, exist_ok=True)
        args = [
            REDIS_SERVER,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.workdir),
            "--daemonize",
            "no",
            "--logfile",
            str(self.workdir / "redis.log"),
            *self.extra_args,
        ]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = (self.workdir / "redis.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"redis-server exited early: {log}")
            with contextlib.suppress(redis.RedisError, OSError):
                if self.admin().ping():
                    return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"redis-server on port {self.port} did not answer PING")

    def admin(self, **kwargs: object) -> redis.Redis:
        """A plain client for test set-up and independent checks."""
        return redis.Redis(
            host="127.0.0.1", port=self.port, socket_timeout=5, password=self.password, **kwargs
        )  # type: ignore[arg-type]

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
