"""deploy/: the Grafana dashboard and the Prometheus alert rules query only metrics that
``llmcache exporter`` serves (scraped from a real exporter on a real redis-server)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml

from llmcache_cli.keys import stats_key
from tests.diagnostics.mixed import build_mixed
from tests.support.exporter import running_exporter

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "deploy" / "grafana" / "llmcache.json"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
METRIC = re.compile(r"\bllmcache_[a-z_]+")


def dashboard_exprs() -> list[str]:
    data = json.loads(DASHBOARD.read_text())
    exprs = []
    for panel in data["panels"]:
        assert {"id", "type", "title", "gridPos"} <= set(panel), panel.get("title")
        for target in panel.get("targets", []):
            exprs.append(target["expr"])
    for variable in data["templating"]["list"]:
        if variable["type"] == "query":
            exprs.append(variable["definition"])
    return exprs


def alert_rules() -> list[dict[str, Any]]:
    data = yaml.safe_load(ALERTS.read_text())
    return [rule for group in data["groups"] for rule in group["rules"]]


@pytest.fixture(scope="module")
def served(redis_server: Any) -> set[str]:
    """Every sample name one scrape serves, on a keyspace where every metric has a value."""
    admin = redis.Redis.from_url(redis_server.url)
    admin.flushall()
    admin.config_resetstat()
    build_mixed(admin)
    admin.hset(stats_key("analysis"), mapping={"hits": 3, "misses": 1, "cost_saved_usd": "0.1"})
    for i in range(50):
        admin.get(f"analysis:stock:S{i % 40}:{i}")
    try:
        with running_exporter(redis_server.url) as exporter:
            families = exporter.wait_for_view()
    finally:
        admin.flushall()
        admin.close()
    return {sample.name for family in families.values() for sample in family.samples}


@pytest.mark.redis
def test_dashboard_queries_only_served_metrics(served: set[str]) -> None:
    used = {name for expr in dashboard_exprs() for name in METRIC.findall(expr)}
    assert used, "the dashboard queries no llmcache metric"
    assert used <= served, sorted(used - served)
    wanted = {  # what the dashboard is for
        "llmcache_llm_cost_saved_usd_total",
        "llmcache_llm_cost_spent_usd_total",
        "llmcache_llm_time_saved_seconds_total",
        "llmcache_llm_hits_total",
        "llmcache_evicted_keys_total",
        "llmcache_used_memory_bytes",
        "llmcache_keys_with_ttl",
        "llmcache_namespace_no_ttl_keys",
        "llmcache_warning",
    }
    assert wanted <= used


@pytest.mark.redis
def test_alert_rules_query_only_served_metrics(served: set[str]) -> None:
    rules = alert_rules()
    for rule in rules:
        assert {"alert", "expr", "labels", "annotations"} <= set(rule), rule
        assert rule["labels"]["severity"] in ("critical", "warning", "info")
    texts = [str(rule["expr"]) + " " + " ".join(map(str, rule["annotations"].values())) for rule in rules]
    used = {name for text in texts for name in METRIC.findall(text)}
    assert used <= served, sorted(used - served)
    from llmcache_cli.diagnostics.stats_warnings import CODES

    exprs = " ".join(str(rule["expr"]) for rule in rules)
    for code in CODES:  # every warning of the dashboard has a rule (evictions by their rate)
        assert f'code="{code}"' in exprs or (code == "evictions" and "llmcache_evicted_keys_total" in exprs)


def test_promtool_accepts_the_rules() -> None:
    promtool = shutil.which("promtool") or str(ROOT / ".tools" / "bin" / "promtool")
    if not Path(promtool).exists():
        pytest.skip("promtool is not installed (scripts/ensure-tools.sh fetches it where apt works)")
    result = subprocess.run([promtool, "check", "rules", str(ALERTS)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alert_rules())} rules found" in result.stdout
