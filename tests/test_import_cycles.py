"""No two modules of llmcache_cli know each other: the module-level imports (those under ``if
TYPE_CHECKING:`` included, found by reading the source with ``ast``) form no cycle. A cycle
means neither module can be understood, tested or changed without the other; docs/design.md
("Who may import whom") gives the layers instead."""

from __future__ import annotations

import ast
from pathlib import Path

import llmcache_cli

ROOT = Path(llmcache_cli.__file__).parent
PACKAGE = "llmcache_cli"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def top_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Imports that run (or that a type checker reads) when the module is imported: at module
    level, also inside ``if``/``try``/``with`` blocks there, never inside a def or a class."""
    found: list[ast.Import | ast.ImportFrom] = []
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        elif isinstance(node, (ast.If, ast.Try, ast.With)):
            for field in ("body", "orelse", "finalbody", "handlers"):
                for child in getattr(node, field, []):
                    pending.extend(child.body if isinstance(child, ast.ExceptHandler) else [child])
    return found


def edges(name: str, path: Path, known: set[str]) -> set[str]:
    is_package = path.name == "__init__.py"
    out: set[str] = set()
    for node in top_level_imports(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:  # relative: from . import x / from .y import z
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # "from pkg import sub" imports the submodule pkg.sub; "from mod import attr" mod itself
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        for target in targets:
            while target and target not in known:  # "import a.b.c" of a non-module: its module
                target = target.rpartition(".")[0]
            if target.startswith(PACKAGE) and target != name:
                out.add(target)
    return out


def import_graph() -> dict[str, set[str]]:
    found = modules()
    known = set(found)
    return {name: edges(name, path, known) for name, path in found.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return out


def test_the_finder_sees_a_cycle_and_type_only_imports(tmp_path: Path) -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    tree = ast.parse(
        "import os\nif TYPE_CHECKING:\n    from llmcache_cli.keys import X\n"
        "try:\n    import x\nexcept ImportError:\n    import y\n"
        "def f():\n    import z\n"
    )
    names = sorted(
        n.module if isinstance(n, ast.ImportFrom) else n.names[0].name for n in top_level_imports(tree)
    )
    assert names == ["llmcache_cli.keys", "os", "x", "y"]


def test_the_graph_is_the_package() -> None:
    graph = import_graph()
    assert "llmcache_cli.cli.app" in graph and "llmcache_cli.cli.main" in graph["llmcache_cli.cli.app"]
    assert "llmcache_cli.keys" in graph["llmcache_cli.invalidation.selection"]


# Cycles tolerated for now: none. Nothing may be added here; untie a new cycle instead.
KNOWN_CYCLES: set[frozenset[str]] = set()


def test_no_module_level_import_cycle() -> None:
    found = {frozenset(c) for c in cycles(import_graph())}
    assert found - KNOWN_CYCLES == set(), "a new import cycle"
    assert KNOWN_CYCLES - found == set(), "a known cycle is gone: remove it from KNOWN_CYCLES"
