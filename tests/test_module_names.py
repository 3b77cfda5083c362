"""No two modules of llmcache_cli share a name: a module's basename alone says which one it is
(``stats_view`` renders, ``stats`` is the command), so a traceback, a grep or an import line never
leaves the reader guessing between two files. Package ``__init__.py`` files are the only
exception; there are no others."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import llmcache_cli

ROOT = Path(llmcache_cli.__file__).parent


def shared_basenames(root: Path) -> dict[str, list[str]]:
    """Each module basename used by more than one file under ``root``, with those files."""
    seen: dict[str, list[str]] = defaultdict(list)
    for path in sorted(root.rglob("*.py")):
        if path.name != "__init__.py":
            seen[path.stem].append(path.relative_to(root).as_posix())
    return {name: paths for name, paths in seen.items() if len(paths) > 1}


def test_no_two_modules_share_a_basename() -> None:
    assert shared_basenames(ROOT) == {}


def test_the_check_sees_a_shared_basename(tmp_path: Path) -> None:
    for rel in ("a/stats.py", "b/stats.py", "a/__init__.py", "b/__init__.py", "c/only.py"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("")
    assert shared_basenames(tmp_path) == {"stats": ["a/stats.py", "b/stats.py"]}
