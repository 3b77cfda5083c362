from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from llmcache_cli.config import BY_TYPE_TTL, Settings, load_settings, user_config_path
from llmcache_cli.errors import ConfigError


def test_defaults_without_any_file(tmp_path: Path) -> None:
    settings = load_settings(None, env={"XDG_CONFIG_HOME": str(tmp_path)})
    assert settings == Settings()
    assert settings.ttl.policy == "market-aware"
    assert settings.ttl.by_type == BY_TYPE_TTL
    assert settings.ttl.volatile_symbols == {"TSLA", "GME", "AMC"}
    assert settings.price("claude-sonnet-4-5").cost(1_000_000, 1_000_000) == pytest.approx(18.0)


def test_order_flag_then_env_then_user_dir(tmp_path: Path) -> None:
    user = user_config_path({"XDG_CONFIG_HOME": str(tmp_path)})
    user.parent.mkdir(parents=True)
    user.write_text('[ttl]\npolicy = "flat"\n')
    env_file = tmp_path / "env.toml"
    env_file.write_text('[ttl]\npolicy = "by-type"\n')
    flag_file = tmp_path / "flag.toml"
    flag_file.write_text('[ttl]\nflat_seconds = 60\npolicy = "flat"\n')
    env = {"XDG_CONFIG_HOME": str(tmp_path), "LLMCACHE_CONFIG": str(env_file)}
    assert load_settings(str(flag_file), env).ttl.flat_seconds == 60
    assert load_settings(None, env).ttl.policy == "by-type"
    assert load_settings(None, {"XDG_CONFIG_HOME": str(tmp_path)}).ttl.policy == "flat"


def test_full_file(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        """
[ttl]
policy = "by-type"
volatile_symbols = ["TSLA", "NVDA"]
volatile_factor = 0.25
[ttl.by_type]
technical = 120
[ttl.market_open]
sentiment = 60
[keys]
stock_entities = ["stock", "equity"]
hash_tag = "always"
[cache]
version = "v2"
default_model = "my-model"
[market]
extra_closures = [2025-01-09, "2018-12-05"]
[prices.my-model]
input_per_mtok = 0.5
output_per_mtok = 2
[redis]
timeout = 1.5
"""
    )
    s = load_settings(str(path), {})
    assert s.ttl.by_type["technical"] == 120 and s.ttl.by_type["fundamental"] == 86400
    assert s.ttl.market_open["sentiment"] == 60 and s.ttl.market_open["technical"] == 300
    assert s.ttl.volatile_symbols == {"TSLA", "NVDA"} and s.ttl.volatile_factor == 0.25
    assert s.stock_entities == {"stock", "equity"} and s.hash_tag == "always" and s.cache_version == "v2"
    assert s.extra_closures == {dt.date(2025, 1, 9), dt.date(2018, 12, 5)}
    assert s.price("my-model").cost(2_000_000, 1_000_000) == pytest.approx(3.0)
    assert s.timeout_seconds == 1.5 and s.source == path


@pytest.mark.parametrize(
    "text, words",
    [
        ("[ttl\npolicy=1", "not valid TOML"),
        ('[ttl]\npolicy = "sometimes"', "ttl.policy must be one of"),
        ("[ttl]\nflat_seconds = -5", "ttl.flat_seconds must be a positive"),
        ("[ttl]\nflat_seconds = true", "ttl.flat_seconds"),
        ("[ttl.by_type]\nweather = 5", "ttl.by_type.weather is not a data type"),
        ("[ttl]\nvolatile_factor = 2", "ttl.volatile_factor"),
        ("[tll]\npolicy = 'flat'", "unknown setting tll"),
        ("[keys]\nstock_entities = ['a:b']", "keys.stock_entities"),
        ("[market]\nextra_closures = ['tomorrow']", "market.extra_closures"),
        ("[prices.x]\ninput_per_mtok = -1\noutput_per_mtok = 1", "prices.x.input_per_mtok"),
        ("[prices]\nx = 3", "prices.x must be a table"),
        ("[cache]\ndefault_model = 'nope'", "no entry in [prices]"),
        ("[redis]\ntimeout = 0", "redis.timeout"),
    ],
)
def test_invalid_files_name_the_setting(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_settings(str(path), {})
    assert words in info.value.one_line()
    assert "\n" not in info.value.one_line()


def test_missing_binary_and_empty_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_settings(str(tmp_path / "missing.toml"), {})
    with pytest.raises(ConfigError, match="not found"):
        load_settings(None, {"LLMCACHE_CONFIG": str(tmp_path / "missing.toml")})
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00\x01garbage")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_settings(str(binary), {})
    empty = tmp_path / "empty.toml"
    empty.write_text("")
    assert load_settings(str(empty), {}).ttl == Settings().ttl


def test_unknown_model_price() -> None:
    with pytest.raises(ConfigError, match="unknown model"):
        Settings().price("gpt-99")


def test_the_key_form_is_configured_never_detected(tmp_path: Path) -> None:
    assert Settings().hash_tag == "never"
    path = tmp_path / "c.toml"
    path.write_text('[keys]\nhash_tag = "auto"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(str(path))
    assert "keys.hash_tag" in str(caught.value) and "always" in (caught.value.hint or "")
    path.write_text('[keys]\nhash_tag = "always"\n')
    assert load_settings(str(path)).hash_tag == "always"
    with pytest.raises(ConfigError, match="not a key form"):  # built in code, not read from a file
        Settings(hash_tag="auto")
