"""Alertmanager configuration rendered from config/alertmanager/alertmanager.yml (the base).

The routing tree, grouping, inhibitions and templates stay the base's. A rendering keeps only the
channels that are configured, so an unconfigured channel never fails a send (and never fires
AlertmanagerNotificationsFailing, which would be routed to the same broken receivers):

- Slack, email: removed from every receiver unless configured; with neither, every receiver is
  empty (a null receiver: the alerts stay visible in Alertmanager's UI, nothing is sent).
- PagerDuty, OpsGenie: a route paging on every critical alert (it continues to the Slack/email
  routes) is added only when a key file is given.

Used by `make local` and the tests (loopback endpoints, shorter timing) and by the compose stack:
`python -m observatory.monitoring.amconfig compose ...` runs in the one-shot alertmanager-config job
and decides from the secret files' sizes and ALERT_* variables (see from_environment).
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from observatory.monitoring import ALERTMANAGER_CONFIG, TEMPLATES_DIR, dump_yaml, load_yaml

CRITICAL = 'severity="critical"'
# paging receivers of the base config: receiver name -> (its config list, the key file field)
PAGERS = {"pagerduty": ("pagerduty_configs", "routing_key_file"), "opsgenie": ("opsgenie_configs", "api_key_file")}
PAGERDUTY_ROUTE = {"receiver": "pagerduty", "matchers": [CRITICAL], "continue": True}
# compose: the secret files the alertmanager service mounts (docker-compose.yml, secrets:)
SECRET_FILES = {
    "slack": "slack-webhook-url",
    "smtp_password": "smtp-password",
    "pagerduty": "pagerduty-routing-key",
    "opsgenie": "opsgenie-api-key",
}


@dataclass
class Endpoints:
    """Where notifications go. None leaves that channel out."""

    slack_url_file: Path | None = None
    smtp_smarthost: str | None = None
    smtp_from: str | None = None
    email_to: str | None = None
    smtp_auth_username: str | None = None  # None: no SMTP authentication
    smtp_auth_password_file: Path | None = None
    smtp_require_tls: bool = True
    pagerduty_key_file: Path | None = None  # set: critical alerts also page PagerDuty
    opsgenie_key_file: Path | None = None  # set: critical alerts also open an OpsGenie alert
    pagerduty_url: str | None = None  # tests: the Events API URL of a local recorder
    opsgenie_api_url: str | None = None  # tests: the Alert API URL of a local recorder

    def channels(self) -> list[str]:
        on = {
            "slack": self.slack_url_file is not None,
            "email": bool(self.smtp_smarthost and self.email_to),
            "pagerduty": self.pagerduty_key_file is not None,
            "opsgenie": self.opsgenie_key_file is not None,
        }
        return [name for name, enabled in on.items() if enabled]


@dataclass
class Timing:
    group_wait: str
    group_interval: str
    repeat_interval: str | None = None  # None keeps the repo's (30m critical, 4h otherwise)


FAST_TIMING = Timing(group_wait="1s", group_interval="1s")  # live tests and the benchmark
LOCAL_TIMING = Timing(group_wait="5s", group_interval="1m")  # `make local`


def repo_config(path: Path = ALERTMANAGER_CONFIG) -> dict:
    return load_yaml(path)


def render(
    endpoints: Endpoints, timing: Timing | None = None, templates_dir: Path = TEMPLATES_DIR, base: dict | None = None
) -> dict:
    cfg = copy.deepcopy(repo_config() if base is None else base)
    g = cfg.setdefault("global", {})
    cfg["templates"] = [str(templates_dir / "*.tmpl")]

    if endpoints.slack_url_file is not None:
        g["slack_api_url_file"] = str(endpoints.slack_url_file)
    else:
        g.pop("slack_api_url_file", None)
        _drop(cfg, "slack_configs")

    if endpoints.smtp_smarthost and endpoints.email_to:
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
        for receiver in cfg["receivers"]:
            for email in receiver.get("email_configs", []):
                email["to"] = endpoints.email_to
    else:
        for key in [k for k in g if k.startswith("smtp_")]:
            g.pop(key)
        _drop(cfg, "email_configs")

    for name, key_file, url_field, url in (
        ("pagerduty", endpoints.pagerduty_key_file, "url", endpoints.pagerduty_url),
        ("opsgenie", endpoints.opsgenie_key_file, "api_url", endpoints.opsgenie_api_url),
    ):
        kind, key_field = PAGERS[name]
        if key_file is None:
            _drop(cfg, kind)  # no route reaches it without a key; keep it inert
            continue
        cfg = with_pager(cfg, name)
        for receiver in cfg["receivers"]:
            for c in receiver.get(kind, []):
                c[key_field] = str(key_file)
                if url:
                    c[url_field] = url

    if timing is not None:
        _retime(cfg["route"], timing, top=True)
    return cfg


def with_pager(cfg: dict, receiver: str) -> dict:
    """The config plus a route sending every critical alert to `receiver` and continuing, inserted
    after the team routes, before the critical one."""
    cfg = copy.deepcopy(cfg)
    routes = cfg["route"].setdefault("routes", [])
    at = next(i for i, r in enumerate(routes) if r.get("matchers") == [CRITICAL] and not r.get("continue"))
    routes.insert(at, {"receiver": receiver, "matchers": [CRITICAL], "continue": True})
    return cfg


def from_environment(env: dict[str, str], secrets_dir: Path) -> Endpoints:
    """The compose stack's channels: a secret file that is not empty turns its channel on (the
    config names the file, never its content); email needs ALERT_SMTP_SMARTHOST and ALERT_EMAIL_TO."""

    def present(name: str) -> Path | None:
        path = secrets_dir / SECRET_FILES[name]
        return path if path.is_file() and path.read_bytes().strip() else None

    smarthost, email_to = env.get("ALERT_SMTP_SMARTHOST", "").strip(), env.get("ALERT_EMAIL_TO", "").strip()
    username = env.get("ALERT_SMTP_USERNAME", "").strip()
    return Endpoints(
        slack_url_file=present("slack"),
        smtp_smarthost=(smarthost or None) if email_to else None,
        smtp_from=env.get("ALERT_SMTP_FROM", "").strip() or None,
        email_to=(email_to or None) if smarthost else None,
        smtp_auth_username=username or None,
        smtp_auth_password_file=(secrets_dir / SECRET_FILES["smtp_password"]) if username else None,
        smtp_require_tls=env.get("ALERT_SMTP_REQUIRE_TLS", "true").strip().lower() not in ("false", "0", "no"),
        pagerduty_key_file=present("pagerduty"),
        opsgenie_key_file=present("opsgenie"),
    )


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
    path.write_text(
        (header or "# generated by observatory.monitoring.amconfig from config/alertmanager/alertmanager.yml\n")
        + dump_yaml(cfg)
    )
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m observatory.monitoring.amconfig",
        description="render Alertmanager's config for the compose stack",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("compose", help="channels from the secret files and ALERT_* variables")
    c.add_argument("--base", type=Path, default=ALERTMANAGER_CONFIG)
    c.add_argument("--secrets-dir", type=Path, required=True)
    c.add_argument("--templates-dir", type=Path, required=True)
    c.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    endpoints = from_environment(dict(os.environ), args.secrets_dir)
    cfg = render(endpoints, templates_dir=args.templates_dir, base=load_yaml(args.base))
    write(cfg, args.out)
    args.out.chmod(0o644)
    channels = endpoints.channels()
    print(
        f"alertmanager config written to {args.out}; channels: {', '.join(channels) or 'none'}"
        + ("" if channels else " (alerts are only shown in Alertmanager's UI)"),
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
