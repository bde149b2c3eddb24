"""Alertmanager configuration for loopback servers, derived from config/alertmanager/alertmanager.yml.

The routing tree, grouping, inhibitions and templates stay the repo's. A variant changes only
receiver endpoints (the Slack webhook URL file, the SMTP server, sender/recipient addresses, the
PagerDuty key file) and, for tests, the timing intervals. A channel with no endpoint configured is
removed from its receivers (its alerts stay visible in the Alertmanager UI).

`python -m observatory.monitoring.amconfig` regenerates config/alertmanager/alertmanager.pagerduty.yml:
the same config plus a route that pages PagerDuty for critical alerts (used in compose only when a
routing key file is present, see config/alertmanager/entrypoint.sh).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path

from observatory.monitoring import (
    ALERTMANAGER_CONFIG,
    ALERTMANAGER_PAGERDUTY_CONFIG,
    TEMPLATES_DIR,
    dump_yaml,
    load_yaml,
)

PAGERDUTY_ROUTE = {"receiver": "pagerduty", "matchers": ['severity="critical"'], "continue": True}
PAGERDUTY_HEADER = ("# GENERATED from alertmanager.yml by `python -m observatory.monitoring.amconfig`: do not edit.\n"
                    "# alertmanager.yml plus a route paging PagerDuty for every critical alert (it continues to\n"
                    "# the Slack/email routes). entrypoint.sh uses this file when the routing key file is not empty.\n")


@dataclass
class Endpoints:
    """Where notifications go. None removes that channel from every receiver."""

    slack_url_file: Path | None = None
    smtp_smarthost: str | None = None
    smtp_from: str | None = None
    email_to: str | None = None
    smtp_auth_username: str | None = None          # None: no SMTP authentication
    smtp_auth_password_file: Path | None = None
    smtp_require_tls: bool = True
    pagerduty_key_file: Path | None = None         # set: the PagerDuty route is added


@dataclass
class Timing:
    group_wait: str
    group_interval: str
    repeat_interval: str | None = None             # None keeps the repo's (30m critical, 4h otherwise)


FAST_TIMING = Timing(group_wait="1s", group_interval="1s")      # live tests and the benchmark
LOCAL_TIMING = Timing(group_wait="5s", group_interval="1m")      # `make local`


def repo_config(path: Path = ALERTMANAGER_CONFIG) -> dict:
    return load_yaml(path)


def with_pagerduty(cfg: dict, key_file: Path | None = None) -> dict:
    """The config plus the PagerDuty route, inserted after the team routes, before the critical one."""
    cfg = copy.deepcopy(cfg)
    routes = cfg["route"].setdefault("routes", [])
    at = next(i for i, r in enumerate(routes) if 'severity="critical"' in r.get("matchers", []))
    routes.insert(at, dict(PAGERDUTY_ROUTE))
    if key_file is not None:
        for receiver in cfg["receivers"]:
            for pd in receiver.get("pagerduty_configs", []):
                pd["routing_key_file"] = str(key_file)
    return cfg


def render(endpoints: Endpoints, timing: Timing | None = None, templates_dir: Path = TEMPLATES_DIR,
           base: dict | None = None) -> dict:
    cfg = copy.deepcopy(repo_config() if base is None else base)
    g = cfg.setdefault("global", {})
    cfg["templates"] = [str(templates_dir / "*.tmpl")]

    if endpoints.slack_url_file is not None:
        g["slack_api_url_file"] = str(endpoints.slack_url_file)
    else:
        g.pop("slack_api_url_file", None)
        _drop(cfg, "slack_configs")

    if endpoints.smtp_smarthost:
        g["smtp_smarthost"] = endpoints.smtp_smarthost
        g["smtp_require_tls"] = endpoints.smtp_require_tls
        if endpoints.smtp_from:
            g["smtp_from"] = endpoints.smtp_from
        if endpoints.smtp_auth_username:
            g["smtp_auth_username"] = endpoints.smtp_auth_username
            if endpoints.smtp_auth_password_file:
                g["smtp_auth_password_file"] = str(endpoints.smtp_auth_password_file)
        else:
            for key in ("smtp_auth_username", "smtp_auth_password", "smtp_auth_password_file"):
                g.pop(key, None)
        if endpoints.email_to:
            for receiver in cfg["receivers"]:
                for email in receiver.get("email_configs", []):
                    email["to"] = endpoints.email_to
    else:
        for key in [k for k in g if k.startswith("smtp_")]:
            g.pop(key)
        _drop(cfg, "email_configs")

    if endpoints.pagerduty_key_file is not None:
        cfg = with_pagerduty(cfg, endpoints.pagerduty_key_file)
    else:
        _drop(cfg, "pagerduty_configs")   # no route reaches it without a key; keep it inert

    if timing is not None:
        _retime(cfg["route"], timing, top=True)
    return cfg


def _drop(cfg: dict, kind: str) -> None:
    for receiver in cfg["receivers"]:
        receiver.pop(kind, None)


def _retime(route: dict, timing: Timing, top: bool) -> None:
    if top or "group_wait" in route:
        route["group_wait"] = timing.group_wait
    if top or "group_interval" in route:
        route["group_interval"] = timing.group_interval
    if timing.repeat_interval and (top or "repeat_interval" in route):
        route["repeat_interval"] = timing.repeat_interval
    for child in route.get("routes", []):
        _retime(child, timing, top=False)


def write(cfg: dict, path: Path, header: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text((header or "# generated by observatory.monitoring.amconfig from config/alertmanager/alertmanager.yml\n")
                    + dump_yaml(cfg))
    return path


def pagerduty_variant_text() -> str:
    return PAGERDUTY_HEADER + dump_yaml(with_pagerduty(repo_config()))


if __name__ == "__main__":
    ALERTMANAGER_PAGERDUTY_CONFIG.write_text(pagerduty_variant_text())
    print(f"wrote {ALERTMANAGER_PAGERDUTY_CONFIG}")
