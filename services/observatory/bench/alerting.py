"""Alerting benchmark: how long from a real fault to the Slack message, and from the fix to the
"resolved" message, through real Prometheus and Alertmanager (observatory.localstack.rig).

The fault: the consumer process is stopped -> ServiceDown (critical) -> Slack #alerts-critical and
email. Two interval profiles, both with the repo's rules and routing tree (only `for:` divided by 60):
  fast   scrape/eval 1 s, Alertmanager group_wait/group_interval 1 s (the live tests' profile)
  local  scrape/eval 5 s, group_wait 10 s, group_interval 1 m        (`make local`'s intervals)
The floor measured in the same run is Alertmanager alone: an alert posted to its API -> Slack.
Production latency is computed from the production intervals in docs/alerting.md, not measured.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from observatory.localstack.rabbitmq import RabbitNode
from observatory.localstack.rig import AlertingRig
from observatory.monitoring import amconfig, promconfig
from observatory.monitoring.sinks import SlackPost, SlackRecorder

PROFILES = {
    "fast": (promconfig.FAST_INTERVALS, amconfig.FAST_TIMING, 5),
    "local": (promconfig.LOCAL_INTERVALS, amconfig.LOCAL_TIMING, 2),
}


def _smtp():
    try:
        from observatory.monitoring.sinks import SmtpSink

        return SmtpSink().start()
    except ImportError:  # aiosmtpd is a dev dependency; without it only Slack is measured
        return None


def _service_down(status: str, after: float):
    return lambda p: (
        p.at >= after
        and p.channel == "#alerts-critical"
        and p.title.startswith(f"[{status}")
        and "ServiceDown · consumer" in p.title
    )


def _titled(name: str) -> Callable[[SlackPost], bool]:
    return lambda p: name in p.title


def _trial(rig: AlertingRig, to_slack: list, to_mail: list, to_resolved: list) -> None:
    """One incident on a fresh rig. A fresh rig per trial matters: Prometheus re-sends a resolved alert
    to Alertmanager for 15 minutes, so a re-fire inside that window joins the existing alert group and
    waits for its next group_interval tick instead of group_wait (see README_ALERTING.md)."""
    assert rig.post({"event_name": "bench_tick", "user_id": "bench"}).status_code == 202
    fault = time.time()
    rig.consumer.stop()
    fired = rig.slack.wait_for("ServiceDown firing", _service_down("FIRING", fault), 180)
    to_slack.append(fired.at - fault)
    if rig.smtp is not None:
        mail = rig.smtp.wait_for(
            "ServiceDown email",
            lambda m: m.at >= fault and m.subject.startswith("[FIRING") and "ServiceDown · consumer" in m.subject,
            180,
        )
        to_mail.append(mail.at - fault)
    rig.consumer.start()
    fixed = time.time()  # the consumer answers /health/ready again
    resolved = rig.slack.wait_for("ServiceDown resolved", _service_down("RESOLVED", fixed), 180)
    to_resolved.append(resolved.at - fixed)
    print(
        f"    trial {len(to_slack)}: fault -> Slack {to_slack[-1]:.1f} s"
        + (f", email {to_mail[-1]:.1f} s" if to_mail else "")
        + f"; fixed -> resolved {to_resolved[-1]:.1f} s",
        flush=True,
    )


def _floor(rig: AlertingRig, trials: int = 5) -> float:
    """Alertmanager alone: POST /api/v2/alerts -> Slack, same config and timing."""
    samples = []
    for i in range(trials):
        now = datetime.now(UTC)
        name = f"BenchFloorProbe{i}"
        sent = time.time()
        rig.alertmanager.post_alerts(
            [
                {
                    "labels": {"alertname": name, "severity": "critical", "service": "bench"},
                    "annotations": {
                        "summary": "probe",
                        "description": "probe",
                        "runbook_url": "https://example.test/r",
                        "dashboard": "observatory-stack-health",
                    },
                    "startsAt": now.isoformat(),
                    "endsAt": (now + timedelta(minutes=5)).isoformat(),
                }
            ]
        )
        post = rig.slack.wait_for(f"{name} in Slack", _titled(name), 120)
        samples.append(post.at - sent)
    return statistics.median(samples)


def _p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


def run(report) -> None:
    with tempfile.TemporaryDirectory(prefix="obs-bench-alerting-") as tmp:
        base = Path(tmp)
        node = RabbitNode(base / "rabbitmq", name="benchalert")
        node.start()
        try:
            for profile, (intervals, timing, trials) in PROFILES.items():
                to_slack: list[float] = []
                to_mail: list[float] = []
                to_resolved: list[float] = []
                floor = None
                for trial in range(trials):
                    slack, smtp = SlackRecorder().start(), _smtp()
                    rig = AlertingRig(
                        base / f"{profile}-{trial}",
                        node.url,
                        node.prometheus_port,
                        slack,
                        smtp,
                        intervals=intervals,
                        timing=timing,
                    )
                    try:
                        rig.start()
                        _trial(rig, to_slack, to_mail, to_resolved)
                        if profile == "fast" and trial == trials - 1:
                            floor = _floor(rig)
                    finally:
                        rig.stop()
                        slack.stop()
                        if smtp is not None:
                            smtp.stop()
                detail = (
                    f"{trials} trials, a fresh rig each; scrape/eval {intervals.scrape}/{intervals.evaluation}, "
                    f"group_wait {timing.group_wait}, group_interval {timing.group_interval}, for: /60"
                )
                target = "p50 <= 15 s" if profile == "fast" else None
                report.add(
                    "alerting",
                    f"{profile}: consumer stopped -> Slack, p50",
                    statistics.median(to_slack),
                    "s",
                    target=target,
                    ceiling=floor,
                    note=detail + ("; ceiling = Alertmanager-only floor" if floor is not None else ""),
                )
                report.add("alerting", f"{profile}: consumer stopped -> Slack, max", max(to_slack), "s")
                if to_mail:
                    report.add(
                        "alerting", f"{profile}: consumer stopped -> email, p50", statistics.median(to_mail), "s"
                    )
                report.add(
                    "alerting",
                    f"{profile}: consumer back -> Slack resolved, p50",
                    statistics.median(to_resolved),
                    "s",
                    note="bounded by group_interval" if profile == "local" else "",
                )
        finally:
            node.destroy()
