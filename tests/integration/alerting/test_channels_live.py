"""Live: Alertmanager with the config rendered for each channel combination (no channel, Slack only,
email only, both, PagerDuty, OpsGenie, all), fed a critical and a warning alert through its API.
Every configured channel receives what the routing says, nothing else is attempted, and
alertmanager_notifications_failed_total (what AlertmanagerNotificationsFailing fires on) stays 0.
A control with a broken Slack webhook shows that counter does move when a send fails.

Local stand-ins for the endpoints (observatory.monitoring.sinks): Slack webhook, PagerDuty Events
API and OpsGenie Alert API recorders (HTTP, answer 200) and an SMTP sink."""

from __future__ import annotations

import re
import time
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from observatory.localstack.alertmanager import AlertmanagerServer
from observatory.localstack.proc import free_port, wait_for
from observatory.monitoring import amconfig
from observatory.monitoring.sinks import SlackRecorder, SmtpSink
from tests.integration.alerting.test_routing_live import alert

ONCALL = "oncall@observatory.test"
PD_KEY, OG_KEY = "pd-routing-key-0123", "og-api-key-4567"
CRITICAL = ("ServiceDown", "critical", "consumer")
WARNING = ("IngestLatencyHigh", "warning", "ingest")  # another service: not inhibited by ServiceDown
# integration label of alertmanager_notifications_total per channel
INTEGRATION = {"slack": "slack", "email": "email", "pagerduty": "pagerduty", "opsgenie": "opsgenie"}
COMBOS = {
    "none": set(),
    "slack": {"slack"},
    "email": {"email"},
    "slack+email": {"slack", "email"},
    "pagerduty": {"pagerduty"},
    "opsgenie": {"opsgenie"},
    "all": {"slack", "email", "pagerduty", "opsgenie"},
}


def metrics(am: AlertmanagerServer) -> dict[tuple[str, str], float]:
    """(metric, integration) -> value, summed over other labels."""
    out: dict[tuple[str, str], float] = {}
    for line in httpx.get(f"{am.url}/metrics", timeout=10).text.splitlines():
        m = re.match(r"^(alertmanager_notifications(?:_failed)?_total)\{([^}]*)\} (\S+)$", line)
        if m:
            integration = re.search(r'integration="([^"]*)"', m[2])[1]
            out[(m[1], integration)] = out.get((m[1], integration), 0) + float(m[3])
    return out


def sent(am, channel: str) -> float:
    return metrics(am).get(("alertmanager_notifications_total", INTEGRATION[channel]), 0)


def failed(am) -> float:
    return sum(v for (name, _), v in metrics(am).items() if name == "alertmanager_notifications_failed_total")


def start(stack: ExitStack, tmp: Path, channels: set[str], slack_url: str | None = None):
    slack = stack.enter_context(_started(SlackRecorder()))
    pd = stack.enter_context(_started(SlackRecorder()))
    og = stack.enter_context(_started(SlackRecorder()))
    smtp = stack.enter_context(_started(SmtpSink()))
    e = amconfig.Endpoints()
    secrets = tmp / "secrets"
    secrets.mkdir()
    if "slack" in channels:
        e.slack_url_file = secrets / "slack-webhook-url"
        e.slack_url_file.write_text(slack_url or slack.url)
    if "email" in channels:
        e.smtp_smarthost, e.smtp_require_tls, e.email_to = smtp.smarthost, False, ONCALL
    if "pagerduty" in channels:
        e.pagerduty_key_file, e.pagerduty_url = secrets / "pagerduty-routing-key", pd.url
        e.pagerduty_key_file.write_text(PD_KEY)
    if "opsgenie" in channels:
        e.opsgenie_key_file, e.opsgenie_api_url = secrets / "opsgenie-api-key", f"http://127.0.0.1:{og.port}/"
        e.opsgenie_key_file.write_text(OG_KEY)
    am = AlertmanagerServer(tmp / "am", amconfig.render(e, amconfig.FAST_TIMING)).start()
    stack.callback(am.stop)
    return am, slack, pd, og, smtp


class _started:
    def __init__(self, sink):
        self.sink = sink

    def __enter__(self):
        return self.sink.start()

    def __exit__(self, *exc):
        self.sink.stop()


@pytest.mark.parametrize("combo", list(COMBOS), ids=str)
def test_each_combination_delivers_to_its_channels_and_fails_nothing(tmp_path, combo):
    channels = COMBOS[combo]
    with ExitStack() as stack:
        am, slack, pd, og, smtp = start(stack, tmp_path, channels)
        am.post_alerts([alert(*CRITICAL), alert(*WARNING)])
        wait_for(
            "both alerts active in Alertmanager",
            lambda: [a["status"]["state"] for a in am.alerts()] == ["active", "active"],
            20,
        )
        if "slack" in channels:
            slack.wait_for(
                "the critical alert in #alerts-critical",
                lambda p: p.channel == "#alerts-critical" and "ServiceDown" in p.title,
                30,
            )
            slack.wait_for(
                "the warning in #alerts", lambda p: p.channel == "#alerts" and "IngestLatencyHigh" in p.title, 30
            )
        if "email" in channels:
            mail = smtp.wait_for("the critical alert by email", lambda m: "ServiceDown" in m.subject, 30)
            assert mail.rcpt_tos == [ONCALL]
        if "pagerduty" in channels:
            post = pd.wait_for("a PagerDuty event", lambda p: p.payload.get("routing_key") == PD_KEY, 30)
            assert post.payload["event_action"] == "trigger" and "ServiceDown" in post.payload["payload"]["summary"]
        if "opsgenie" in channels:
            post = og.wait_for("an OpsGenie alert", lambda p: "ServiceDown" in p.payload.get("message", ""), 30)
            assert post.payload["priority"] == "P1" and post.payload["source"] == "observatory"
        for channel in channels:
            wait_for(f"Alertmanager to count its {channel} sends", lambda c=channel: sent(am, c) > 0, 20)
        time.sleep(3)  # several 1 s group intervals, in which a send to an unconfigured channel would happen
        assert failed(am) == 0, metrics(am)
        for channel in set(COMBOS["all"]) - channels:
            assert sent(am, channel) == 0, f"{combo}: Alertmanager tried {channel}: {metrics(am)}"
        # the pagers get the critical alert only, email too; Slack gets both
        assert not [p for p in pd.posts + og.posts if "IngestLatencyHigh" in str(p.payload)]
        assert not [m for m in smtp.mails if "IngestLatencyHigh" in m.subject]
        if "slack" not in channels:
            assert not slack.posts
        # with no channel the alerts are still there to see
        assert {a["labels"]["alertname"] for a in am.alerts()} == {"ServiceDown", "IngestLatencyHigh"}


def test_control_a_broken_channel_does_count_failures(tmp_path):
    """What the combinations above prevent: a configured channel whose endpoint fails is counted."""
    dead = f"http://127.0.0.1:{free_port()}/services/T/B/dead"  # nothing listens there
    with ExitStack() as stack:
        am, *_ = start(stack, tmp_path, {"slack"}, slack_url=dead)
        am.post_alerts([alert(*CRITICAL)])
        wait_for("Alertmanager to count a failed Slack send", lambda: failed(am) > 0, 60)
