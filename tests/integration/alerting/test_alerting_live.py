"""Live: a real Prometheus evaluates the repo's rules (only `for:` shortened, see
observatory.monitoring.rules.shortened_copy) over metrics scraped from real ingest and consumer
processes and RabbitMQ, and a real Alertmanager with the repo's routing tree delivers to a Slack
recorder and an SMTP sink. Real faults drive the alerts; the assertions read what was delivered."""

from __future__ import annotations

import time

import httpx

from observatory.localstack.proc import wait_for
from observatory.localstack.rig import GRAFANA_URL, ONCALL
from observatory.monitoring import load_yaml
from observatory.monitoring.rules import rule_files

GOOD = {"event_name": "page_view", "user_id": "u-alerting", "properties": {"path": "/"}}
BAD = {"event_name": "page_view"}  # no user_id: refused with reason missing_field


def runbooks(rig) -> str:
    """The rig's link base: its own ingest process serves the runbooks on its private listener."""
    return f"{rig.ingest.private_url}/runbooks/"


def opens(link: str, name: str) -> bool:
    """A runbook link as delivered opens like in a browser (no key): 200 and the alert's page."""
    r = httpx.get(link, timeout=10)
    return r.status_code == 200 and f"<h1>{name}</h1>" in r.text


def _value(rig, expr: str) -> float | None:
    result = rig.prometheus.query(expr)
    return float(result[0]["value"][1]) if result else None


def test_prometheus_loads_every_repo_rule_group_and_evaluates_them_without_error(rig):
    expected = {g["name"] for path in rule_files() for g in load_yaml(path)["groups"]}
    assert {g["name"] for g in rig.prometheus.rule_groups()} == expected
    wait_for(
        "every rule group evaluated at least 5 times",
        lambda: (_value(rig, "min(prometheus_rule_group_iterations_total)") or 0) >= 5,
        60,
    )
    assert _value(rig, "sum(prometheus_rule_evaluation_failures_total)") == 0
    unhealthy = [
        (g["name"], r["name"], r.get("lastError"))
        for g in rig.prometheus.rule_groups()
        for r in g["rules"]
        if r["health"] != "ok"
    ]
    assert not unhealthy


def test_the_series_the_rules_rely_on_exist_on_the_real_services(rig):
    """Metric and label names in the rules match what ingest, the consumer and RabbitMQ 3.10 export."""
    for _ in range(3):  # requests across several 1 s scrapes, so rates over them are non-zero
        assert rig.post(GOOD).status_code == 202
        time.sleep(1.1)
    q = rig.queue
    checks = {
        f'rabbitmq_detailed_queue_messages_ready{{job="rabbitmq-queues",queue="{q}"}}': None,
        f'rabbitmq_detailed_queue_messages{{job="rabbitmq-queues",queue="{q}.dead"}}': None,
        f'rabbitmq_detailed_queue_consumers{{queue="{q}"}}': 1.0,
        'max by (instance, alarm) (label_replace({__name__=~"rabbitmq_alarms_.+"}, "alarm", "$1", '
        '"__name__", "rabbitmq_alarms_(.+)"))': 0.0,
        f'observatory_queue_max_length{{job="ingest",queue="{q}"}}': 1_000_000.0,
        'sum(ingest_http_requests_total{route="/v1/events",method="POST",code="202"}) > 0': None,
        'sum(ingest_http_request_duration_seconds_bucket{route="/v1/events",method="POST",le="0.5"}) > 0': None,
        "sum(ingest_events_accepted_total) > 0": None,
        "consumer_rows_inserted_total > 0": None,
        "consumer_last_insert_timestamp_seconds > 0": None,
        "sli:ingest_availability:error_ratio_rate5m": 0.0,
        "sli:ingest_latency:slow_ratio_rate5m": None,
        "alertmanager_config_last_reload_successful": 1.0,
        "prometheus_config_last_reload_successful": 1.0,
    }
    for expr, expected in checks.items():
        wait_for(f"Prometheus to have {expr}", lambda e=expr: bool(rig.prometheus.query(e)), 30)
        if expected is not None:
            assert _value(rig, expr) == expected, expr


def test_bad_events_warn_in_the_alerts_channel_and_page_nobody(rig, slack, smtp):
    """Half of the events refused -> IngestRejectionRatioHigh (warning) -> Slack #alerts only."""

    def fired(p):
        return p.channel == "#alerts" and p.title.startswith("[FIRING") and "IngestRejectionRatioHigh" in p.title

    deadline = time.monotonic() + 90
    while not any(fired(p) for p in slack.delivered()):  # keep the bad traffic flowing until it alerts
        assert time.monotonic() < deadline, "timed out after 90s waiting for IngestRejectionRatioHigh in #alerts"
        assert rig.post(GOOD).status_code == 202
        assert rig.post([BAD]).status_code == 400
        time.sleep(0.2)
    post = next(p for p in slack.delivered() if fired(p))
    assert post.title == "[FIRING:1] IngestRejectionRatioHigh · ingest · warning"
    assert post.attachment["color"] == "warning"
    assert "*FIRING: Ingest rejects " in post.text and "% of received events*" in post.text
    assert "severity `warning` · service `ingest`" in post.text
    assert f"<{runbooks(rig)}IngestRejectionRatioHigh.md|IngestRejectionRatioHigh>" in post.text
    assert opens(f"{runbooks(rig)}IngestRejectionRatioHigh.md", "IngestRejectionRatioHigh")
    assert "|Observatory / Pipeline>" in post.text

    # positive proof of the routing, not a wait for absence: Alertmanager matched the #alerts receiver only
    routed = rig.alertmanager.alerts(alertname="IngestRejectionRatioHigh")
    assert routed and all([r["name"] for r in a["receivers"]] == ["slack-alerts"] for a in routed), routed
    assert not [m for m in smtp.mails if "IngestRejectionRatioHigh" in m.subject], "a warning must not be emailed"
    assert not [p for p in slack.posts if p.channel != "#alerts" and p.mentions("IngestRejectionRatioHigh")]


def test_a_stopped_consumer_pages_slack_and_email_then_resolves(rig, slack, smtp):
    assert rig.post(GOOD).status_code == 202
    rig.consumer.stop()

    def critical(status):
        return lambda p: (
            p.channel == "#alerts-critical" and p.title.startswith(f"[{status}") and "ServiceDown · consumer" in p.title
        )

    fired = slack.wait_for("ServiceDown (consumer) firing in #alerts-critical", critical("FIRING"), 90)
    assert fired.title == "[FIRING:1] ServiceDown · consumer · critical"
    assert fired.attachment["color"] == "danger"
    assert fired.attachment["title_link"] == f"{runbooks(rig)}ServiceDown.md"
    assert opens(fired.attachment["title_link"], "ServiceDown")
    assert f"*FIRING: consumer is down ({rig.consumer.target})*" in fired.text
    assert "severity `critical` · service `consumer`" in fired.text
    assert f"<{runbooks(rig)}ServiceDown.md|ServiceDown>" in fired.text
    assert f"Dashboard: <{GRAFANA_URL}/d/observatory-pipeline|Observatory / Pipeline>" in fired.text
    assert f"<{rig.ingest.private_url}/console/|Console>" in fired.text  # OBS_CONSOLE_URL, not localhost:3000

    # the recorder refused the first post to #alerts-critical with a 500: Alertmanager retried it
    first = next(p for p in slack.posts if p.channel == "#alerts-critical")
    assert first.status == 500 and first.mentions("ServiceDown") and first.at <= fired.at

    mail = smtp.wait_for(
        "ServiceDown (consumer) firing email",
        lambda m: m.subject.startswith("[FIRING") and "ServiceDown · consumer" in m.subject,
        60,
    )
    assert mail.rcpt_tos == [ONCALL]
    assert mail.subject == f"[FIRING:1] ServiceDown · consumer · critical: consumer is down ({rig.consumer.target})"
    text, html = mail.part("plain"), mail.part("html")
    assert text and html, "the email needs a text and an HTML part"
    for body in (text, html):
        assert f"consumer is down ({rig.consumer.target})" in body
        assert f"{runbooks(rig)}ServiceDown.md" in body
        assert "Observatory / Pipeline" in body
    assert "severity:  critical" in text and "service:   consumer" in text
    assert not [p for p in slack.posts if p.channel == "#alerts" and p.mentions("ServiceDown")]

    rig.consumer.start()
    resolved = slack.wait_for("ServiceDown (consumer) resolved in #alerts-critical", critical("RESOLVED"), 90)
    assert resolved.title == "[RESOLVED] ServiceDown · consumer · critical"
    assert resolved.attachment["color"] == "good"
    assert f"*RESOLVED: consumer is down ({rig.consumer.target})*" in resolved.text
    smtp.wait_for(
        "ServiceDown (consumer) resolved email",
        lambda m: m.subject.startswith("[RESOLVED]") and "ServiceDown · consumer" in m.subject,
        60,
    )
