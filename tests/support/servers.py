"""Real redis-server processes for the tests, on free loopback ports.

Nothing here is mocked: each ``RedisServer`` is a real server binary, started in a temporary
directory with persistence off, and stopped at the end of the test session. The binary is
``$LLMCACHE_TEST_SERVER`` when set (a ``redis-server`` or ``valkey-server``: ``make test-servers``
runs the whole suite once per server), else Debian's ``redis-server``. Its client (for
``--cluster create``) is ``$LLMCACHE_TEST_CLI``, else the ``*-cli`` beside the server binary,
else Debian's ``redis-cli``.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import redis

REDIS_SERVER = (
    os.environ.get("LLMCACHE_TEST_SERVER") or shutil.which("redis-server") or "/usr/bin/redis-server"
)


def _cli_for(server: str) -> str:
    named = os.environ.get("LLMCACHE_TEST_CLI")
    if named:
        return named
    path = Path(server)
    sibling = path.with_name(path.name.replace("-server", "-cli"))
    if sibling != path and sibling.is_file():
        return str(sibling)
    return shutil.which("redis-cli") or "/usr/bin/redis-cli"


REDIS_CLI = _cli_for(REDIS_SERVER)


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
            raise RuntimeError(f"{REDIS_SERVER} not found: run 'make test' (or 'make test-servers')")
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
        with open(self.workdir / "stderr.log", "wb") as stderr:  # a refused option is said here
            self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=stderr)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{REDIS_SERVER} exited early: {self.said()[-2000:]}")
            with contextlib.suppress(redis.RedisError, OSError):
                if self.admin().ping():
                    return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{REDIS_SERVER} on port {self.port} did not answer PING")

    def said(self) -> str:
        """What the server wrote to its log file, then to stderr (where a refused option goes)."""
        files = [self.workdir / "redis.log", self.workdir / "stderr.log"]
        return "\n".join(f.read_text(errors="replace").strip() for f in files if f.exists()).strip()

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


def tls_unsupported(workdir: Path) -> str | None:
    """Why the server binary cannot serve TLS (its own words), or None when it can.

    Asked of the binary itself, not guessed from its name or version: it is started with a TLS
    port and test certificates, and either answers on its plain port or exits saying why (a
    build without TLS refuses the ``tls-*`` options, or cannot configure the listener).
    """
    from tests.support.tls import make_certs

    certs = make_certs(workdir / "certs")
    server = RedisServer(
        workdir / "server",
        extra_args=(
            "--tls-port",
            str(free_port()),
            "--tls-cert-file",
            str(certs.cert),
            "--tls-key-file",
            str(certs.key),
            "--tls-ca-cert-file",
            str(certs.ca),
        ),
    )
    try:
        server.start()
    except RuntimeError as exc:
        lines = [line for line in server.said().splitlines() if line.strip()]
        said = lines[-1] if lines else str(exc)
        said = re.sub(r"^\d+:[A-Z] \d+ \w+ \d+ [\d:.]+ [#*.-] ", "", said.strip())  # pid, time
        refused = [line.split()[1].strip("'") for line in lines if line.startswith(">>> ")]
        said += f" ({refused[0]})" if refused else ""  # the config directive it does not know
        return f"{Path(REDIS_SERVER).name} {server_version()} has no TLS: {said[-200:]}"
    server.stop()
    return None


@functools.lru_cache(maxsize=1)
def server_version() -> str:
    """The binary's own ``--version`` (``v=X.Y.Z``)."""
    out = subprocess.run([REDIS_SERVER, "--version"], capture_output=True, text=True, check=True).stdout
    return next((w[2:] for w in out.split() if w.startswith("v=")), out.strip())
