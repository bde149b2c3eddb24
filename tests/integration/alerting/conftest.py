"""Fixtures for the live alerting tests: the alerting rig (observatory.localstack.rig) on a RabbitMQ
node of its own, so no queue left over by other tests can raise or mask an alert; the Slack recorder
answers 500 to the first post on #alerts-critical to prove Alertmanager retries; an aiosmtpd sink
receives the emails. A bare Alertmanager per test (same repo config) serves the routing tests."""

from __future__ import annotations

import pytest

from observatory.localstack.alertmanager import AlertmanagerServer
from observatory.localstack.rabbitmq import RabbitNode
from observatory.localstack.rig import AlertingRig
from observatory.monitoring import amconfig
from observatory.monitoring.sinks import SlackRecorder, SmtpSink
from tests.tools import require

require("prometheus"), require("promtool"), require("prometheus-alertmanager")  # the rig launches them


@pytest.fixture(scope="module")
def alert_rabbit(tmp_path_factory) -> RabbitNode:
    node = RabbitNode(tmp_path_factory.mktemp("alert-rabbit"), name="alerting")
    node.start()  # its boot budget covers a loaded machine (rabbitmq.BOOT_TIMEOUT_S)
    yield node
    node.destroy()


@pytest.fixture(scope="module")
def slack() -> SlackRecorder:
    recorder = SlackRecorder(fail_first={"#alerts-critical": 1}).start()
    yield recorder
    recorder.stop()


@pytest.fixture(scope="module")
def smtp() -> SmtpSink:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="module")
def rig(tmp_path_factory, alert_rabbit, slack, smtp) -> AlertingRig:
    """ingest + consumer processes, Prometheus (repo rules, `for:` / 60) and Alertmanager (repo routing)."""
    rig = AlertingRig(tmp_path_factory.mktemp("rig"), alert_rabbit.url, alert_rabbit.prometheus_port, slack, smtp)
    try:
        rig.start()
        yield rig
    finally:
        rig.stop()


@pytest.fixture
def routing(tmp_path):
    """A bare Alertmanager with the repo's routing tree and inhibitions; alerts are posted to its API."""
    recorder = SlackRecorder().start()
    sink = SmtpSink().start()
    url_file = tmp_path / "slack-webhook-url"
    url_file.write_text(recorder.url)
    cfg = amconfig.render(
        amconfig.Endpoints(
            slack_url_file=url_file,
            smtp_smarthost=sink.smarthost,
            smtp_require_tls=False,
            email_to="oncall@observatory.test",
        ),
        amconfig.FAST_TIMING,
    )
    am = AlertmanagerServer(tmp_path / "am", cfg).start()
    try:
        yield am, recorder, sink
    finally:
        am.stop()
        recorder.stop()
        sink.stop()
