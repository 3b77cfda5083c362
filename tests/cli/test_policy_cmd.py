"""``llmcache policy``: JSON at fixed instants, config, table output, usage errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import Invoke, json_of
from tests.support.servers import free_port
from tests.test_ttl_policy import BY_TYPE  # docs/design.md's by-type table, written once

OPEN_TSLA = {
    "fundamental": 1800,
    "sentiment": 450,
    "technical": 150,
    "earnings": 302400,
    "market": 900,
    "historical": 1296000,
    "analysis": 1800,
}
CLOSED = {**BY_TYPE, "technical": 1800}


def test_half_day_open_volatile_symbol(cli: Invoke) -> None:
    data = json_of(cli("policy", "--at", "2024-07-03T12:00", "--symbol", "TSLA", "--json"))
    assert data == {
        "at": "2024-07-03T12:00:00-04:00",
        "policy": "market-aware",
        "symbol": "TSLA",
        "volatile": True,
        "volatile_factor": 0.5,
        "market_open": True,
        "session": {
            "date": "2024-07-03",
            "open": "2024-07-03T09:30:00-04:00",
            "close": "2024-07-03T13:00:00-04:00",
            "half_day": True,
        },
        "closure": None,
        "ttl_seconds": OPEN_TSLA,
    }


def test_half_day_after_the_early_close(cli: Invoke) -> None:
    data = json_of(cli("policy", "--at", "2024-07-03T13:00", "--json"))
    assert data["market_open"] is False and data["session"]["half_day"] is True
    assert data["ttl_seconds"] == CLOSED and data["symbol"] is None and data["volatile"] is False


def test_holiday_in_utc_with_by_type(cli: Invoke) -> None:
    data = json_of(cli("policy", "--at", "2024-12-25T15:00:00Z", "--policy", "by-type", "--json"))
    assert data["at"] == "2024-12-25T10:00:00-05:00"
    assert data["market_open"] is False and data["session"] is None
    assert data["closure"] == "NYSE holiday: Christmas Day"
    assert data["policy"] == "by-type" and data["ttl_seconds"] == BY_TYPE


def test_weekend(cli: Invoke) -> None:
    data = json_of(cli("policy", "--at", "2024-07-06T11:00", "--json"))
    assert data["session"] is None and data["closure"] == "weekend" and data["ttl_seconds"] == CLOSED


@pytest.mark.parametrize(
    ("at", "is_open"),
    [("2024-11-04T14:29:59Z", False), ("2024-11-04T14:30:00Z", True), ("2024-03-11T13:30:00Z", True)],
)
def test_open_across_dst_in_utc(cli: Invoke, at: str, is_open: bool) -> None:
    data = json_of(cli("policy", "--at", at, "--json"))
    assert data["market_open"] is is_open
    assert data["session"]["open"].endswith("T09:30:00" + ("-05:00" if "11-04" in at else "-04:00"))


def test_flat_policy_does_not_halve(cli: Invoke) -> None:
    data = json_of(cli("policy", "--at", "2024-07-10T11:00", "--symbol", "GME", "--policy", "flat", "--json"))
    assert data["volatile"] is True and data["volatile_factor"] == 1.0
    assert set(data["ttl_seconds"].values()) == {3600} and len(data["ttl_seconds"]) == 7


def test_config_policy_closures_and_volatile_symbols(cli: Invoke, tmp_path: Path) -> None:
    config = tmp_path / "llmcache.toml"
    config.write_text(
        '[ttl]\npolicy = "market-aware"\nvolatile_symbols = ["NVDA"]\n'
        '[ttl.market_open]\ntechnical = 120\n[market]\nextra_closures = ["2024-06-12"]\n'
    )
    closed = json_of(cli("--config", str(config), "policy", "--at", "2024-06-12T11:00", "--json"))
    assert closed["session"] is None and closed["closure"] == "extra closure (config)"
    opened = json_of(
        cli("--config", str(config), "policy", "--at", "2024-06-13T11:00", "--symbol", "NVDA", "--json")
    )
    assert opened["market_open"] is True and opened["volatile"] is True
    assert opened["ttl_seconds"]["technical"] == 60
    by_type = tmp_path / "by-type.toml"
    by_type.write_text('[ttl]\npolicy = "by-type"\n')
    assert json_of(cli("--config", str(by_type), "policy", "--at", "2024-06-13T11:00", "--json"))[
        "policy"
    ] == ("by-type")


def test_default_is_now(cli: Invoke) -> None:
    data = json_of(cli("policy", "--json"))
    assert isinstance(data["market_open"], bool) and set(data["ttl_seconds"]) == set(BY_TYPE)
    assert data["at"][-6:] in ("-04:00", "-05:00")


def test_needs_no_redis(cli: Invoke) -> None:
    result = cli(
        "--url", f"redis://127.0.0.1:{free_port()}/0", "policy", "--at", "2024-07-10T11:00", "--json"
    )
    assert json_of(result)["market_open"] is True


def test_table_output(cli: Invoke) -> None:
    result = cli("policy", "--at", "2024-07-03T12:00", "--symbol", "TSLA")
    assert result.exit_code == 0, result.output
    assert "Market OPEN at 2024-07-03 12:00:00 EDT" in result.stdout
    assert "09:30-13:00, half day" in result.stdout
    assert "x0.5" in result.stdout and "7m 30s" in result.stdout and "3d 12h" in result.stdout
    closed = cli("policy", "--at", "2024-12-25T12:00")
    assert "CLOSED" in closed.stdout and "Christmas Day" in closed.stdout


def test_help_has_examples(cli: Invoke) -> None:
    result = cli("policy", "--help")
    assert result.exit_code == 0 and "Examples" in result.stdout and "--symbol TSLA" in result.stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--at", "nope"], "invalid --at"),
        (["--at", "2024-03-10T02:30"], "does not exist"),
        (["--at", ""], "invalid --at"),
        (["--symbol", "A:B"], "':'"),
        (["--symbol", ""], "non-empty"),
        (["--symbol", "{AAPL}"], "hash tag"),
        (["--policy", "nosuch"], "flat, by-type, market-aware"),
        (["--bogus"], "--bogus"),
    ],
)
def test_bad_input_is_one_line_exit_2(cli: Invoke, args: list[str], says: str) -> None:
    result = cli("policy", *args)
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("llmcache: error:") and says in lines[0], result.stderr
    assert result.stdout == ""
