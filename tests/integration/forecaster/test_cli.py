"""`observatory forecast backtest` and `observatory report`, in this process (its chDB folder) on
webshop traffic that ends now (the commands use the wall clock)."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import UTC, datetime

import pytest
from typer.testing import CliRunner

from observatory.cli import app
from observatory.monitoring.sinks import SmtpSink
from observatory.settings import StoreSettings
from tests.conftest import unique
from tests.integration.shopdata import load, webshop_events


@pytest.fixture(scope="module")
def recent(chdb):
    store = StoreSettings(dsn=chdb.dsn, database=unique("cli"))
    client = chdb.client()
    load(client, store, webshop_events(75, datetime.now(UTC), seed=5, base_sessions=200), dup_ratio=0.05)
    client.close()
    return store


@pytest.fixture
def env(recent, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no .local/observatory.env here
    monkeypatch.setenv("OBS_CLICKHOUSE_DSN", recent.dsn)
    monkeypatch.setenv("OBS_CLICKHOUSE_DATABASE", recent.database)
    monkeypatch.setenv("OBS_LOG_LEVEL", "WARNING")
    return recent


def test_backtest_reports_mape_and_mase_against_seasonal_naive(env):
    runner = CliRunner()
    text = runner.invoke(app, ["forecast", "backtest", "revenue", "--horizon", "14", "--folds", "3"])
    assert text.exit_code == 0, text.output
    assert "3 fold(s) x 14 buckets held out, seasonal period 7" in text.output
    assert "prophet" in text.output and "seasonal naive" in text.output and "MASE" in text.output
    result = runner.invoke(app, ["forecast", "backtest", "orders", "--horizon", "7", "--folds", "2", "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output[result.output.index("{") :])
    assert (body["metric"], body["folds"], body["points"]) == ("orders", 2, 14)
    assert 0 < body["mape"] < 0.5 and body["mase"] > 0 and body["relative_mae"] > 0


def test_backtest_errors_have_distinct_exit_codes(env):
    runner = CliRunner()
    unknown = runner.invoke(app, ["forecast", "backtest", "nonsense"])
    assert unknown.exit_code == 2 and "unknown metric" in unknown.output
    too_long = runner.invoke(app, ["forecast", "backtest", "revenue", "--horizon", "60", "--folds", "2"])
    assert too_long.exit_code == 3 and "needed" in too_long.output


def test_report_command_sends_and_writes(env, tmp_path, monkeypatch):
    sink = SmtpSink().start()
    try:
        monkeypatch.setenv("OBS_REPORT_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("OBS_REPORT_SMTP_PORT", str(sink.port))
        runner = CliRunner()
        sent = runner.invoke(app, ["report", "daily", "--to", "boss@shop.test"])
        assert sent.exit_code == 0, sent.output
        mail = sink.wait_for("the daily report from the CLI", lambda m: "Daily KPIs" in m.subject, timeout_s=10)
        assert mail.rcpt_tos == ["boss@shop.test"]
        assert '<table id="kpis"' in mail.part("html")
        out = tmp_path / "weekly.eml"
        written = runner.invoke(app, ["report", "weekly", "--out", str(out)])
        assert written.exit_code == 0, written.output
        msg = email.message_from_bytes(out.read_bytes(), policy=email.policy.default)
        assert "Weekly KPIs" in msg["Subject"]
        assert [p.get_content_type() for p in msg.walk()].count("image/png") == 1
        nobody = runner.invoke(app, ["report", "daily"])
        assert nobody.exit_code == 1 and "no recipients" in nobody.output
    finally:
        sink.stop()
