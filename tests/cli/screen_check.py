"""What a captured full screen of ``stats --watch`` must look like: complete panels only."""

from __future__ import annotations

import re

TITLES = {
    "activity": "Activity (rates since the last refresh)",
    "llm": "LLM cache (the library's counters)",
    "server": "Server",
    "keyspace": "Keyspace",
    "warnings": "Warnings",
    "namespaces": "Namespaces, from",
}
SHORT = {"activity": "Activity", "llm": "LLM cache", "namespaces": "Namespaces"}
FOOTER = "leave"


def check_screen(lines: list[str], width: int, height: int) -> set[str]:
    """Assert the screen has only whole panels, no line longer than the terminal, and a footer;
    return the panels on screen."""
    lines = [line.rstrip() for line in lines]
    while lines and not lines[-1]:
        lines.pop()
    assert 0 < len(lines) <= height, len(lines)
    assert all(len(line) <= width for line in lines), max(len(line) for line in lines)
    *body, footer = lines
    assert FOOTER in footer, footer
    open_panels = 0
    for line in body:
        assert line[:1] in "╭│╰" and line[-1:] in "╮│╯", f"a panel is cut: {line!r}"
        assert line.count("╭") == line.count("╮") and line.count("╰") == line.count("╯"), line
        open_panels += line.count("╭") - line.count("╰")
        assert open_panels >= 0
    assert open_panels == 0, "a panel has no bottom border on screen"
    text = "\n".join(body)
    shown = {name for name, title in TITLES.items() if re.search(r"╭─ " + re.escape(title), text)}
    hidden = re.search(r"\(\+(\d+) hidden\)", footer)
    if hidden:
        assert len(TITLES) - len(shown) == int(hidden.group(1)), footer
        return shown
    named = footer.split("no room for:", 1)[1] if "no room for:" in footer else ""
    for name in TITLES:
        on_screen = name in shown
        in_footer = SHORT.get(name, TITLES[name]) in named
        assert on_screen != in_footer, f"{name}: on screen {on_screen}, said left out {in_footer}"
    if "llm" in shown:
        assert re.search(r"│ all +\d", text), "the LLM table lost its total row"
    return shown
