"""Monitoring configuration as code: the repo's Prometheus config, alert rules and Alertmanager
config are the single source; this package derives the loopback variants that `make local`, the
tests and the benchmark run, changing only targets, receiver endpoints and timing."""

from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]
RULES_DIR = REPO / "alert-rules"
RULE_TESTS_DIR = RULES_DIR / "tests"
RUNBOOKS_DIR = REPO / "runbooks"
PROMETHEUS_CONFIG = REPO / "config" / "prometheus" / "prometheus.yml"
ALERTMANAGER_DIR = REPO / "config" / "alertmanager"
ALERTMANAGER_CONFIG = ALERTMANAGER_DIR / "alertmanager.yml"
TEMPLATES_DIR = ALERTMANAGER_DIR / "templates"


class _Dumper(yaml.SafeDumper):
    """Plain YAML: no &anchors/*aliases for repeated objects, block style, long lines kept."""

    def ignore_aliases(self, data) -> bool:
        return True


def dump_yaml(doc: dict) -> str:
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=200, allow_unicode=True)


def load_yaml(path: Path) -> dict:
    return yaml.safe_load(path.read_text())
