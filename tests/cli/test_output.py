"""JSON on stdout is strict JSON: no command can print NaN or Infinity."""

from __future__ import annotations

import json

import pytest

from llmcache_cli.cli.output import emit_json


def test_emit_json_pretty_and_compact(capsys: pytest.CaptureFixture[str]) -> None:
    emit_json({"a": [1, 2.5], "key": "é"})
    emit_json({"a": 1}, compact=True)
    pretty, compact = capsys.readouterr().out.split("\n}\n")
    assert json.loads(pretty + "}") == {"a": [1, 2.5], "key": "é"} and "é" in pretty
    assert compact == '{"a":1}\n'


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_emit_json_refuses_numbers_json_cannot_carry(bad: float, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ValueError):
        emit_json({"x": bad})
    assert capsys.readouterr().out == ""
