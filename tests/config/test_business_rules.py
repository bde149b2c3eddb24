"""alert-rules/business.rules.yml: promtool validates and unit-tests it, every alert is routed to the
business team, and every metric the rules read is one the forecaster really exports."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import yaml
from prometheus_client import CollectorRegistry

from observatory.metrics import ForecasterMetrics
from tests.tools import require

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "alert-rules" / "business.rules.yml"
TESTS = ROOT / "alert-rules" / "tests" / "business.test.yml"
PROMTOOL = require("promtool")

ALERTS = [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"] if "alert" in r]
EXPECTED = {
    "RevenueBelowMovingAverage",
    "RevenueAboveMovingAverage",
    "RevenueBelowForecastBand",
    "RevenueAboveForecastBand",
    "DailyActiveUsersBelowExpected",
    "PaymentFailureRateSpike",
    "BusinessAnomalyDetectionStale",
}


def test_promtool_checks_and_unit_tests_pass():
    check = subprocess.run([PROMTOOL, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert check.returncode == 0 and f"SUCCESS: {len(ALERTS)} rules found" in check.stdout, check.stdout + check.stderr
    test = subprocess.run([PROMTOOL, "test", "rules", str(TESTS)], capture_output=True, text=True, timeout=60)
    assert test.returncode == 0, test.stdout + test.stderr


def test_a_broken_threshold_fails_the_unit_tests(tmp_path):
    """The promtool tests can fail: with the revenue threshold moved from 0.8 to 0.6 the injected drop
    to 70% no longer fires and the test file must report it."""
    rules = tmp_path / "business.rules.yml"
    rules.write_text(RULES.read_text().replace("< 0.8", "< 0.6"))
    tests_dir = tmp_path / "tests"
    tests_dir.mkdir()
    (tests_dir / "business.test.yml").write_text(TESTS.read_text())
    result = subprocess.run(
        [PROMTOOL, "test", "rules", str(tests_dir / "business.test.yml")], capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert "RevenueBelowMovingAverage" in result.stdout + result.stderr


def test_the_required_alerts_exist_and_go_to_the_business_team():
    assert {a["alert"] for a in ALERTS} == EXPECTED
    for a in ALERTS:
        assert a["labels"]["team"] == "business", a["alert"]
        assert a["labels"]["service"] == "forecaster", a["alert"]
        assert a["labels"]["severity"] in {"critical", "warning", "info"}
        assert a["annotations"]["runbook_url"] == "{{ $externalLabels.runbook_base_url }}/" + f"{a['alert']}.md"
        assert (ROOT / "runbooks" / f"{a['alert']}.md").is_file()
        assert "dashboard" in a["annotations"]["description"].lower(), f"{a['alert']}: say what to look at"


def test_rules_only_read_metrics_the_forecaster_exports():
    registry = CollectorRegistry()
    ForecasterMetrics.create(registry)
    exported = {s.name for family in registry.collect() for s in family.samples} | {
        family.name for family in registry.collect()
    }
    used = set()
    for a in ALERTS:
        used |= set(re.findall(r"\b(forecaster_[a-z0-9_]+)", a["expr"]))
    assert used, "no forecaster metric in the rules?"
    assert used <= exported, f"rules read metrics the forecaster does not export: {sorted(used - exported)}"
