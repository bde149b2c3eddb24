"""config/prometheus/prometheus.yml and the loopback variant derived from it."""

from __future__ import annotations

import re
import subprocess

import pytest

from observatory.monitoring import PROMETHEUS_CONFIG
from observatory.monitoring.promconfig import (
    FAST_INTERVALS,
    LoopbackPlan,
    compose_config,
    loopback_config,
    write,
)
from observatory.monitoring.rules import rule_files
from tests.tools import require

PROMTOOL = require("promtool")

COMPOSE_JOBS = {
    "ingest": "ingest:8081",
    "consumer": "dns:consumer:9101",
    "forecaster": "forecaster:8091",
    "rabbitmq": "rabbitmq:15692",
    "rabbitmq-queues": "rabbitmq:15692",
    "clickhouse": "clickhouse:9363",
    "node-exporter": "host.docker.internal:9100",
    "cadvisor": "cadvisor:8080",
    "pushgateway": "pushgateway:9091",
    "blackbox": "http://ingest:8080/health/ready",
    "alertmanager": "alertmanager:9093",
    "prometheus": "localhost:9090",
}


def first_target(job: dict) -> str:
    if "dns_sd_configs" in job:
        sd = job["dns_sd_configs"][0]
        return f"dns:{sd['names'][0]}:{sd['port']}"
    return job["static_configs"][0]["targets"][0]


def test_compose_config_syntax():
    result = subprocess.run(
        [PROMTOOL, "check", "config", "--syntax-only", str(PROMETHEUS_CONFIG)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_jobs_and_targets():
    cfg = compose_config()
    jobs = {j["job_name"]: j for j in cfg["scrape_configs"]}
    assert {name: first_target(j) for name, j in jobs.items()} == COMPOSE_JOBS
    queues = jobs["rabbitmq-queues"]
    assert queues["metrics_path"] == "/metrics/detailed"
    assert set(queues["params"]["family"]) == {"queue_coarse_metrics", "queue_consumer_count"}
    assert cfg["rule_files"] == ["/etc/prometheus/rules/*.rules.yml"]
    assert cfg["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]


def test_loopback_variant_loads_every_repo_rule_file(tmp_path):
    files = rule_files()
    plan = LoopbackPlan(
        targets={
            "all-in-one": ["127.0.0.1:8080"],
            "rabbitmq": ["127.0.0.1:15692"],
            "rabbitmq-queues": ["127.0.0.1:15692"],
            "prometheus": ["127.0.0.1:9090"],
            "alertmanager": ["127.0.0.1:9093"],
        },
        rule_files=[str(p) for p in files],
        alertmanagers=["127.0.0.1:9093"],
        intervals=FAST_INTERVALS,
    )
    cfg = loopback_config(plan)
    path = write(cfg, tmp_path / "prometheus.yml")
    result = subprocess.run(
        [PROMTOOL, "check", "config", str(path)], capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    checked = re.findall(r"SUCCESS: (\d+) rules found", result.stdout + result.stderr)
    assert len(checked) == len(files) and all(int(n) > 0 for n in checked), result.stdout + result.stderr

    jobs = {j["job_name"]: j for j in cfg["scrape_configs"]}
    assert set(jobs) == set(plan.targets)
    assert jobs["all-in-one"]["static_configs"] == [{"targets": ["127.0.0.1:8080"]}]
    assert jobs["rabbitmq-queues"]["metrics_path"] == "/metrics/detailed"  # kept from the compose job
    assert cfg["global"]["scrape_interval"] == "1s" and cfg["global"]["scrape_timeout"] == "1s"


def test_a_job_unknown_to_the_compose_config_is_refused():
    with pytest.raises(ValueError, match="neither"):
        loopback_config(LoopbackPlan(targets={"mystery": ["127.0.0.1:1"]}, rule_files=[]))


def test_compose_config_with_its_rules_passes_promtool(tmp_path):
    """The full compose config (DNS discovery, blackbox relabelling, honor_labels) checked by promtool
    with the rule files it loads, the container paths remapped to the repo."""
    cfg = compose_config()
    cfg["rule_files"] = [str(p) for p in rule_files()]
    path = write(cfg, tmp_path / "prometheus.yml")
    result = subprocess.run(
        [PROMTOOL, "check", "config", str(path)], capture_output=True, text=True, check=False, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_loopback_variant_turns_dns_discovery_into_static_targets():
    cfg = loopback_config(LoopbackPlan(targets={"consumer": ["127.0.0.1:9101", "127.0.0.1:9102"]}, rule_files=[]))
    (job,) = cfg["scrape_configs"]
    assert "dns_sd_configs" not in job
    assert job["static_configs"] == [{"targets": ["127.0.0.1:9101", "127.0.0.1:9102"]}]
