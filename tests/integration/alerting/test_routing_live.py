"""Live: the repo's routing tree and inhibitions in a real Alertmanager, fed through its API.
Each test gets its own Alertmanager, so alerts of one test cannot inhibit another's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from observatory.localstack.proc import wait_for

RUNBOOKS = "https://github.com/observatory/observatory/blob/main/runbooks/"


def alert(name: str, severity: str, service: str | None = None, **labels: str) -> dict:
    now = datetime.now(UTC)
    return {
        "labels": {"alertname": name, "severity": severity, **({"service": service} if service else {}), **labels},
        "annotations": {
            "summary": f"{name} on {service}",
            "description": f"{name} for the routing test",
            "runbook_url": f"{RUNBOOKS}{name}.md",
            "dashboard": "observatory-pipeline",
        },
        "startsAt": now.isoformat(),
        "endsAt": (now + timedelta(minutes=10)).isoformat(),
    }


def states(am) -> dict[tuple[str, str, str], str]:
    """(alertname, severity, service) -> active | suppressed | unprocessed"""
    return {
        (a["labels"]["alertname"], a["labels"]["severity"], a["labels"].get("service", "")): a["status"]["state"]
        for a in am.alerts()
    }


def test_business_alerts_go_to_the_business_channel_only(routing):
    am, slack, smtp = routing
    am.post_alerts([alert("OrdersBelowForecast", "critical", "forecaster", team="business")])
    post = slack.wait_for(
        "OrdersBelowForecast in #alerts-business",
        lambda p: p.channel == "#alerts-business" and "OrdersBelowForecast" in p.title,
        30,
    )
    assert f"{RUNBOOKS}OrdersBelowForecast.md" in post.text
    # positive proof of the routing, not a wait for absence: Alertmanager matched one receiver only
    (routed,) = am.alerts(alertname="OrdersBelowForecast")
    assert [r["name"] for r in routed["receivers"]] == ["slack-business"]
    assert [p.channel for p in slack.posts] == ["#alerts-business"]
    assert not smtp.mails


@pytest.mark.parametrize(
    ("sources", "suppressed", "active"),
    [
        pytest.param(
            [("QueueBacklogHigh", "critical", "consumer")],
            [("QueueBacklogHigh", "warning", "consumer")],
            [],
            id="critical-twin-silences-warning-twin",
        ),
        pytest.param(
            [("ServiceDown", "critical", "consumer")],
            [("ConsumerStalled", "critical", "consumer"), ("DataFreshnessStale", "critical", "consumer")],
            [("IngestLatencyHigh", "warning", "ingest")],
            id="service-down-silences-its-symptoms",
        ),
        pytest.param(
            [("ServiceDown", "critical", "all-in-one")],
            [("IngestErrorRatioHigh", "critical", "ingest"), ("ConsumerStalled", "critical", "consumer")],
            [("HostDiskSpaceLow", "warning", "host")],
            id="all-in-one-down-silences-ingest-and-consumer",
        ),
        pytest.param(
            [("RabbitMQDown", "critical", "rabbitmq")],
            [("IngestErrorRatioHigh", "critical", "ingest"), ("QueueNearMaxLength", "critical", "rabbitmq")],
            [("ServiceDown", "critical", "consumer"), ("ClickHouseInsertErrors", "warning", "clickhouse")],
            id="broker-down-silences-pipeline-symptoms",
        ),
        pytest.param(
            [("ClickHouseDown", "critical", "clickhouse")],
            [("ClickHouseInsertErrors", "warning", "clickhouse"), ("ConsumerStalled", "critical", "consumer")],
            [("IngestLatencyHigh", "warning", "ingest")],
            id="clickhouse-down-silences-insert-symptoms",
        ),
    ],
)
def test_inhibitions(routing, sources, suppressed, active):
    am, slack, _smtp = routing
    am.post_alerts([alert(*a) for a in sources + suppressed + active])

    def settled():
        s = states(am)
        return all(s.get(key) == "suppressed" for key in suppressed) and all(
            s.get(key) == "active" for key in sources + active
        )

    wait_for(f"Alertmanager to suppress {suppressed} and keep {sources + active} active", settled, 20)
    # the sources and the unrelated alerts are delivered; the suppressed ones never are
    for name, severity, service in sources + active:
        slack.wait_for(
            f"{name} ({service}) delivered", lambda p, n=name, s=service, v=severity: f"{n} · {s} · {v}" in p.title, 30
        )
    # no wait for absence: the inhibitor that marked them `suppressed` (awaited above) is the one the
    # notification pipeline applies, and their groups flushed with the delivered ones (same group_wait)
    assert all(states(am).get(key) == "suppressed" for key in suppressed)
    for name, severity, service in suppressed:
        assert not [p for p in slack.posts if f"{name} · {service} · {severity}" in p.title], (name, service)
