"""The alert rules as files: promtool checks and unit tests run on the repo files named one by one
(a glob over container paths would silently check nothing), and every alert follows the conventions:
CamelCase name, severity and service labels, summary/description/runbook_url annotations, a runbook
file, a commented `for:`, guarded ratios, and a promtool test that sees it both silent and firing."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from observatory.monitoring import RULE_TESTS_DIR, RULES_DIR, RUNBOOKS_DIR
from observatory.monitoring.rules import alerts, iter_rules, rule_files
from tests.tools import require

PROMTOOL = require("promtool")

# the base comes from the Prometheus external label `runbook_base_url` (one setting, see docs/alerting.md)
RUNBOOK_TEMPLATE = "{{ $externalLabels.runbook_base_url }}/%s.md"
SEVERITIES = {"critical", "warning", "info"}
REQUIRED_ANNOTATIONS = ("summary", "description", "runbook_url")
CAMEL = re.compile(r"^[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]*)*$|^[A-Z][A-Za-z0-9]+$")

FILES = rule_files()
TEST_FILES = sorted(RULE_TESTS_DIR.glob("*.test.yml"))
ALERTS = alerts(FILES)


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([PROMTOOL, *args], capture_output=True, text=True, check=False, timeout=120)


def test_the_rule_folder_is_not_empty():
    assert len(FILES) >= 5, f"expected the repo's rule files in {RULES_DIR}, found {FILES}"
    assert len(ALERTS) >= 20


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_promtool_check_rules(path: Path):
    result = _run("check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    found = re.search(r"SUCCESS: (\d+) rules found", result.stdout)
    assert found and int(found.group(1)) > 0, f"promtool checked no rule in {path}: {result.stdout}"


@pytest.mark.parametrize("path", TEST_FILES, ids=lambda p: p.name)
def test_promtool_unit_tests(path: Path):
    result = _run("test", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_rule_file_has_a_test_file():
    missing = [p.name for p in FILES if not (RULE_TESTS_DIR / p.name.replace(".rules.yml", ".test.yml")).exists()]
    assert not missing, f"rule files without alert-rules/tests/<area>.test.yml: {missing}"


@pytest.mark.parametrize("alert", ALERTS, ids=lambda a: f"{a.name}-{a.labels.get('severity')}")
def test_alert_labels_annotations_and_runbook(alert):
    assert CAMEL.match(alert.name), f"{alert.name} is not CamelCase"
    assert alert.labels.get("severity") in SEVERITIES, f"{alert.name}: severity must be one of {SEVERITIES}"
    assert alert.labels.get("service"), f"{alert.name}: a `service` label is required"
    for key in REQUIRED_ANNOTATIONS:
        assert str(alert.annotations.get(key, "")).strip(), f"{alert.name}: annotation {key} is required"
    assert alert.annotations["runbook_url"] == RUNBOOK_TEMPLATE % alert.name, alert.annotations["runbook_url"]
    assert (RUNBOOKS_DIR / f"{alert.name}.md").is_file(), f"runbooks/{alert.name}.md is missing"


def test_every_for_has_a_comment():
    bare = []
    for path in FILES:
        lines = path.read_text().splitlines()
        for i, line in enumerate(lines):
            if re.match(r"^\s*for:", line) and "#" not in line and not lines[i - 1].strip().startswith("#"):
                bare.append(f"{path.name}:{i + 1}: {line.strip()}")
    assert not bare, "every `for:` needs a comment saying why that long:\n" + "\n".join(bare)


def _strip_strings(expr: str) -> str:
    return re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)


def test_ratios_are_guarded_against_division_by_zero():
    unguarded = []
    for path, _group, rule in iter_rules(FILES):
        expr = _strip_strings(rule["expr"])
        if "/" in expr and not re.search(r">\s*0\s*\)", expr) and "clamp_min(" not in expr:
            unguarded.append(f"{path.name}: {rule.get('alert') or rule.get('record')}")
    assert not unguarded, "divisions need a `(denominator > 0)` or clamp_min guard:\n" + "\n".join(unguarded)


def _tested() -> tuple[set[tuple[str, str]], set[str]]:
    """(alertname, severity) pairs some test sees firing; alertnames some test checks silent."""
    firing, silent = set(), set()
    for path in TEST_FILES:
        for case in (yaml.safe_load(path.read_text()) or {}).get("tests", []):
            for check in case.get("alert_rule_test", []) or []:
                expected = check.get("exp_alerts") or []
                if not expected:
                    silent.add(check["alertname"])
                for alert in expected:
                    firing.add((check["alertname"], alert.get("exp_labels", {}).get("severity")))
    return firing, silent


def test_every_alert_has_a_firing_and_a_silent_promtool_case():
    firing, silent = _tested()
    never_fired = sorted(
        {f"{a.name} ({a.labels['severity']})" for a in ALERTS if (a.name, a.labels["severity"]) not in firing}
    )
    never_silent = sorted({a.name for a in ALERTS if a.name not in silent})
    assert not never_fired, f"alerts no promtool test sees firing: {never_fired}"
    assert not never_silent, f"alerts no promtool test checks at a time they must not fire: {never_silent}"


def test_promtool_expectations_carry_full_labels_and_annotations():
    incomplete = []
    for path in TEST_FILES:
        for case in (yaml.safe_load(path.read_text()) or {}).get("tests", []):
            for check in case.get("alert_rule_test", []) or []:
                for alert in check.get("exp_alerts") or []:
                    labels, notes = alert.get("exp_labels", {}), alert.get("exp_annotations", {})
                    if not {"severity", "service"} <= set(labels) or not set(REQUIRED_ANNOTATIONS) <= set(notes):
                        incomplete.append(f"{path.name}: {case['name']} / {check['alertname']}")
    assert not incomplete, "expected alerts without full labels/annotations:\n" + "\n".join(incomplete)


RUNBOOK_SECTIONS = ("## What it means", "## Impact", "## First checks", "## Mitigation", "## Escalation")
DASHBOARDS = (
    "Observatory / Pipeline",
    "Observatory / SLOs",
    "Observatory / Infrastructure",
    "Observatory / Stack health",
    "Observatory / Business KPIs",
    "Observatory / Frontend",
)


@pytest.mark.parametrize("name", sorted({a.name for a in ALERTS}))
def test_runbook_has_every_section_and_names_its_dashboard(name: str):
    path = RUNBOOKS_DIR / f"{name}.md"
    assert path.is_file(), f"runbooks/{name}.md is missing"
    text = path.read_text()
    assert text.startswith(f"# {name}\n"), f"{path.name} must start with '# {name}'"
    missing = [s for s in RUNBOOK_SECTIONS if s not in text]
    assert not missing, f"{path.name} lacks {missing}"
    assert any(d in text for d in DASHBOARDS), f"{path.name} names no dashboard ({DASHBOARDS})"
