"""Prometheus configuration for loopback servers, derived from config/prometheus/prometheus.yml.

The compose file is the source: a variant keeps its jobs (metrics paths, params) and only swaps
targets (static ones: service discovery such as the consumer's DNS lookup is dropped), rule file
paths, the Alertmanager address and the intervals. Jobs without a target here are
dropped (nothing to scrape); a job the compose stack does not have, such as the local stack's
`all-in-one` process, is cloned from the job whose endpoint it serves (ingest's /metrics).
Jobs whose shape depends on where the exporter runs (the blackbox probes, the Pushgateway) are
rendered whole by `blackbox_job` / `pushgateway_job` and passed as `extra_jobs`.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path

from observatory.monitoring import PROMETHEUS_CONFIG, dump_yaml, load_yaml
from observatory.monitoring.rules import format_duration, parse_duration

# jobs that do not exist in compose, and the compose job whose scrape settings they reuse
CLONED_JOBS = {"all-in-one": "ingest"}


@dataclass
class Intervals:
    scrape: str = "15s"
    evaluation: str = "15s"


LOCAL_INTERVALS = Intervals(scrape="2s", evaluation="2s")  # `make local`: quick feedback, few targets
FAST_INTERVALS = Intervals(scrape="1s", evaluation="1s")  # live tests and the alerting benchmark
LOCAL_RUNBOOK_BASE_URL = "http://127.0.0.1:8081/runbooks"  # the local stack's private API serves runbooks/


@dataclass
class LoopbackPlan:
    targets: dict[str, list[str]]  # job name -> ["127.0.0.1:port", ...]
    rule_files: list[str]  # absolute paths or globs
    alertmanagers: list[str] = field(default_factory=list)
    intervals: Intervals = field(default_factory=lambda: LOCAL_INTERVALS)
    extra_jobs: list[dict] = field(default_factory=list)  # complete jobs; replace a same-named one
    # alert runbook links: `{runbook_base_url}/<Alert>.md` (external label read by every rule's annotation)
    runbook_base_url: str = LOCAL_RUNBOOK_BASE_URL
    # links in alert messages (external labels; empty: no such link): Grafana, the console
    grafana_url: str = ""
    console_url: str = ""


def blackbox_job(exporter: str, probes: dict[str, str], module: str = "http_2xx", name: str = "blackbox") -> dict:
    """Synthetic checks: Prometheus asks the blackbox exporter at `exporter` (host:port) to probe each
    URL of `probes` (service -> URL); the series carry `instance=<URL>`, `service` (which the
    EndpointDown/SlowProbe rules read), `probe_success` and `probe_duration_seconds`."""
    return {
        "job_name": name,
        "metrics_path": "/probe",
        "params": {"module": [module]},
        "static_configs": [{"targets": [url], "labels": {"service": service}} for service, url in probes.items()],
        "relabel_configs": [
            {"source_labels": ["__address__"], "target_label": "__param_target"},
            {"source_labels": ["__param_target"], "target_label": "instance"},
            {"target_label": "__address__", "replacement": exporter},
        ],
    }


def pushgateway_job(targets: list[str], name: str = "pushgateway") -> dict:
    """The Pushgateway: `honor_labels` keeps the pushed `job`/`instance` labels of each batch job."""
    return {"job_name": name, "honor_labels": True, "static_configs": [{"targets": list(targets)}]}


def compose_config(path: Path = PROMETHEUS_CONFIG) -> dict:
    return load_yaml(path)


def loopback_config(plan: LoopbackPlan, base: dict | None = None) -> dict:
    base = compose_config() if base is None else base
    cfg = copy.deepcopy(base)
    scrape_s = parse_duration(plan.intervals.scrape)
    cfg["global"]["scrape_interval"] = plan.intervals.scrape
    cfg["global"]["evaluation_interval"] = plan.intervals.evaluation
    timeout = parse_duration(cfg["global"].get("scrape_timeout", "10s"))
    cfg["global"]["scrape_timeout"] = format_duration(min(timeout, scrape_s))
    labels = {
        k: v for k, v in cfg["global"].get("external_labels", {}).items() if k not in ("grafana_url", "console_url")
    }
    links = {"grafana_url": plan.grafana_url.rstrip("/"), "console_url": plan.console_url}
    cfg["global"]["external_labels"] = {
        **labels,
        "runbook_base_url": plan.runbook_base_url.rstrip("/"),
        **{k: v for k, v in links.items() if v},
    }
    cfg["rule_files"] = list(plan.rule_files)
    if plan.alertmanagers:
        cfg["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": list(plan.alertmanagers)}]}]}
    else:
        cfg.pop("alerting", None)

    by_name = {job["job_name"]: job for job in base["scrape_configs"]}
    unknown = set(plan.targets) - set(by_name) - set(CLONED_JOBS)
    if unknown:
        raise ValueError(f"jobs {sorted(unknown)} are neither in {PROMETHEUS_CONFIG.name} nor clones of one")
    jobs = []
    for name, targets in plan.targets.items():
        job = copy.deepcopy(by_name[CLONED_JOBS.get(name, name)])
        job["job_name"] = name
        for sd in [k for k in job if k.endswith("_sd_configs")]:
            job.pop(sd)  # compose's DNS discovery: loopback targets are static
        job["static_configs"] = [{"targets": list(targets)}]
        jobs.append(job)
    extra = {job["job_name"] for job in plan.extra_jobs}
    cfg["scrape_configs"] = [j for j in jobs if j["job_name"] not in extra] + copy.deepcopy(plan.extra_jobs)
    return cfg


def write(cfg: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# generated by observatory.monitoring.promconfig from config/prometheus/prometheus.yml\n" + dump_yaml(cfg)
    )
    return path
