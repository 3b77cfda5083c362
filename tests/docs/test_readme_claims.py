"""The README's headline figures are the default simulation's, as `llmcache simulate` prints them."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from tests.docs.blocks import ROOT

HEADLINE = re.compile(
    r"caching\s+saves\s+(?P<savings>\d+)%\s+of\s+the\s+LLM\s+bill\s+and\s+makes\s+the\s+bot's\s+"
    r"total\s+wait\s+(?P<speedup>[\d.]+)x\s+shorter"
)


def test_readme_headline_is_the_default_simulation() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    claim = HEADLINE.search(readme)
    assert claim, "the README's headline sentence (savings and speed-up) is gone or reworded"
    done = subprocess.run(
        [sys.executable, "-m", "llmcache_cli", "simulate", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    measured = json.loads(done.stdout)
    assert int(claim["savings"]) == round(measured["savings_pct"])
    assert float(claim["speedup"]) == round(measured["speedup"], 1)
