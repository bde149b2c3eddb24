"""KPI report emails reach a real SMTP server (aiosmtpd sink) with the KPI table and the chart, sent
on demand over HTTP and by the scheduler at the configured time."""

from __future__ import annotations

import re
import struct
from datetime import timedelta

import pytest

from observatory.monitoring.sinks import SmtpSink
from observatory.reports.schedule import parse
from observatory.settings import ReportSettings
from tests.integration.analytics.reference import Reference
from tests.integration.conftest import READ
from tests.integration.forecaster.conftest import NOW, Clock
from tests.integration.shopdata import utc

RECIPIENTS = "ceo@shop.test,ops@shop.test"


@pytest.fixture
def smtp():
    sink = SmtpSink().start()
    yield sink
    sink.stop()


def report_settings(sink: SmtpSink, **overrides) -> ReportSettings:
    values = {
        "recipients": RECIPIENTS,
        "sender": "observatory@shop.test",
        "smtp_host": "127.0.0.1",
        "smtp_port": sink.port,
        **overrides,
    }
    return ReportSettings(**values)


def kpi_cells(html: str) -> dict[str, tuple[str, str, str]]:
    rows = re.findall(
        r'<tr data-kpi="([a-z_]+)">.*?<td class="current"[^>]*><b>([^<]*)</b></td>'
        r'<td class="previous"[^>]*>([^<]*)</td><td class="change"[^>]*>([^<]*)</td>',
        html,
    )
    return {key: (cur, prev, change) for key, cur, prev, change in rows}


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


async def test_daily_report_arrives_with_kpi_table_and_inline_chart(shop, make_forecaster, smtp):
    store, events = shop
    async with make_forecaster(store, reports=report_settings(smtp)) as (app, http):
        r = await http.post("/v1/reports/daily")
    assert r.status_code == 200, r.text
    assert r.json()["period"] == "Tue 03 Mar 2026"
    mail = smtp.wait_for("the daily report", lambda m: "Daily KPIs" in m.subject, timeout_s=10)
    assert mail.subject == "[Observatory] Daily KPIs Tue 03 Mar 2026"
    assert sorted(mail.rcpt_tos) == ["ceo@shop.test", "ops@shop.test"]
    html = mail.part("html")
    cells = kpi_cells(html)
    # the numbers, computed independently from the generated events
    day = Reference(events, utc(2026, 3, 3), utc(2026, 3, 4)).kpi_summary()[0]
    before = Reference(events, utc(2026, 3, 2), utc(2026, 3, 3)).kpi_summary()[0]
    users, signups, orders, revenue = day[0], day[1], day[2], day[3]
    assert cells["revenue"][:2] == (f"{revenue:,.2f}", f"{before[3]:,.2f}")
    assert cells["orders"][:2] == (f"{orders:,}", f"{before[2]:,}")
    assert cells["active_users"][0] == f"{users:,}" and cells["signups"][0] == f"{signups:,}"
    assert cells["revenue"][2] == f"{(revenue - before[3]) / before[3] * 100:+.1f}%"
    assert cells["payment_failure_rate"][0] == f"{day[7] * 100:.2f}%"
    assert set(cells) == {
        "revenue",
        "orders",
        "average_order_value",
        "avg_dau",
        "active_users",
        "signups",
        "purchase_conversion",
        "payment_failure_rate",
        "refund_rate",
    }
    # the chart: an inline PNG referenced by the HTML's cid
    images = [p for p in mail.message.walk() if p.get_content_type() == "image/png"]
    assert len(images) == 1
    cid = images[0]["Content-ID"].strip("<>")
    assert f'src="cid:{cid}"' in html
    assert images[0].get_content_disposition() == "inline"
    assert png_size(images[0].get_content()) == (800, 320)
    assert "(best model by backtest)" in html and "backtest MAPE" in html
    assert "Revenue" in mail.part("plain")


async def test_weekly_report_compares_with_the_week_before(shop, make_forecaster, smtp):
    store, events = shop
    async with make_forecaster(store, reports=report_settings(smtp)) as (app, http):
        r = await http.post("/v1/reports/weekly", params={"to": "ops@shop.test"})  # narrows the list
    assert r.status_code == 200, r.text
    mail = smtp.wait_for("the weekly report", lambda m: "Weekly KPIs" in m.subject, timeout_s=10)
    assert mail.rcpt_tos == ["ops@shop.test"]
    assert mail.subject == "[Observatory] Weekly KPIs 25 Feb – 03 Mar 2026"
    week = Reference(events, utc(2026, 2, 25), utc(2026, 3, 4)).kpi_summary()[0]
    prev = Reference(events, utc(2026, 2, 18), utc(2026, 2, 25)).kpi_summary()[0]
    cells = kpi_cells(mail.part("html"))
    assert cells["revenue"][:2] == (f"{week[3]:,.2f}", f"{prev[3]:,.2f}")
    dau = Reference(events, utc(2026, 2, 25), utc(2026, 3, 4)).dau()
    assert cells["avg_dau"][0] == f"{sum(n for _, n in dau) / 7:,.1f}"


async def test_scheduler_sends_at_the_configured_time(shop, make_forecaster, smtp):
    store, _ = shop
    clock = Clock(NOW)  # Wednesday 15:00
    settings = report_settings(smtp, daily_at="07:00", weekly_at="thu 07:00")
    async with make_forecaster(store, clock=clock, reports=settings, metrics="revenue") as (app, http):
        scheduler = app.state.forecaster.scheduler
        scheduler.plan(clock.now)
        assert scheduler.next_report == {
            "daily": utc(2026, 3, 5, 7),
            "weekly": utc(2026, 3, 5, 7),
            "monthly": utc(2026, 4, 1, 7),
        }
        first = await scheduler.tick(utc(2026, 3, 5, 6) + timedelta(minutes=59))
        assert not any(job.startswith("report:") for job in first)
        assert smtp.mails == []
        clock.now = utc(2026, 3, 5, 7) + timedelta(seconds=30)
        second = await scheduler.tick(clock.now)
        assert [j for j in second if j.startswith("report:")] == ["report:daily", "report:weekly"]
        third = await scheduler.tick(clock.now + timedelta(minutes=1))
        assert not any(job.startswith("report:") for job in third)
        assert scheduler.next_report == {
            "daily": utc(2026, 3, 6, 7),
            "weekly": utc(2026, 3, 12, 7),
            "monthly": utc(2026, 4, 1, 7),
        }
        metrics = (await http.get("/metrics")).text
    smtp.wait_for("two reports", lambda m: len(smtp.mails) >= 2, timeout_s=10)
    assert sorted(m.subject for m in smtp.mails) == [
        "[Observatory] Daily KPIs Wed 04 Mar 2026",
        "[Observatory] Weekly KPIs 26 Feb – 04 Mar 2026",
    ]
    assert 'forecaster_reports_sent_total{kind="daily"} 1.0' in metrics


async def test_unreachable_smtp_is_counted_not_fatal(shop, make_forecaster, smtp):
    store, _ = shop
    dead = report_settings(smtp, smtp_port=1, smtp_timeout_s=2)
    async with make_forecaster(store, reports=dead, metrics="revenue") as (app, http):
        r = await http.post("/v1/reports/daily")
        unknown = await http.post("/v1/reports/yearly")
        scheduler = app.state.forecaster.scheduler
        scheduler.plan(NOW)
        ran = await scheduler.tick(utc(2026, 3, 5, 7) + timedelta(minutes=1))  # the daily report is due and fails
        metrics = (await http.get("/metrics")).text
    assert r.status_code == 502 and r.json()["error"] == "report_not_sent" and "127.0.0.1:1" in r.json()["message"]
    assert unknown.status_code == 404
    assert "report:daily" in ran and "evaluate" in ran  # the loop went on
    assert 'forecaster_report_failures_total{kind="daily"} 2.0' in metrics


async def test_reports_go_only_to_configured_recipients_and_need_admin(shop, make_forecaster, smtp):
    store, _ = shop
    async with make_forecaster(store, reports=report_settings(smtp)) as (app, http):
        outside = await http.post("/v1/reports/daily", params={"to": "attacker@evil.test"})
        mixed = await http.post("/v1/reports/daily", params={"to": "ops@shop.test,attacker@evil.test"})
        read_only = await http.post("/v1/reports/daily", headers=READ)
        no_key = await http.post("/v1/reports/daily", headers={"Authorization": ""})
        inside = await http.post("/v1/reports/daily", params={"to": "CEO@shop.test"})
    assert (outside.status_code, outside.json()["error"]) == (403, "recipient_not_allowed")
    assert "attacker" not in outside.text, "the refusal does not echo addresses"
    assert mixed.status_code == 403
    assert (read_only.status_code, read_only.json()["error"]) == (403, "forbidden")
    assert no_key.status_code == 401 and no_key.headers["www-authenticate"] == "Bearer"
    assert inside.status_code == 200, inside.text
    mail = smtp.wait_for("the allowed report", lambda m: "Daily KPIs" in m.subject, timeout_s=10)
    assert mail.rcpt_tos == ["CEO@shop.test"]
    assert len(smtp.mails) == 1, "nothing was sent for the refused requests"


async def test_reports_on_demand_are_rate_limited(shop, make_forecaster, smtp):
    store, _ = shop
    async with make_forecaster(store, reports=report_settings(smtp, per_hour=2)) as (app, http):
        codes = [(await http.post("/v1/reports/daily")).status_code for _ in range(3)]
        limited = await http.post("/v1/reports/daily")
    assert codes[:2] == [200, 200] and codes[2] == 429
    assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1


def test_schedule_parsing():
    assert parse("daily", "07:30").next_after(utc(2026, 3, 4, 7)) == utc(2026, 3, 4, 7) + timedelta(minutes=30)
    assert parse("daily", "07:30").next_after(utc(2026, 3, 4, 8)) == utc(2026, 3, 5, 7) + timedelta(minutes=30)
    assert parse("weekly", "Mon 06:00").next_after(utc(2026, 3, 4, 8)) == utc(2026, 3, 9, 6)
    assert parse("weekly", "mon 06:00").next_after(utc(2026, 3, 9, 6)) == utc(2026, 3, 16, 6)
    assert parse("daily", "") is None
    assert parse("monthly", "1 07:00").next_after(utc(2026, 3, 4, 8)) == utc(2026, 4, 1, 7)
    assert parse("monthly", "3 07:00").next_after(utc(2026, 12, 3, 7)) == utc(2027, 1, 3, 7)
    for kind, bad in (
        ("daily", "7h"),
        ("daily", "25:00"),
        ("weekly", "07:00"),
        ("daily", "mon 07:00"),
        ("monthly", "07:00"),
        ("monthly", "31 07:00"),
    ):
        with pytest.raises(ValueError):
            parse(kind, bad)


def pdf_text(mail) -> tuple[str, str]:
    """(file name, text) of the mail's PDF attachment, extracted with pypdf."""
    import io

    from pypdf import PdfReader

    (pdf,) = [p for p in mail.message.iter_attachments() if p.get_content_type() == "application/pdf"]
    data = pdf.get_content()
    assert data[:5] == b"%PDF-"
    reader = PdfReader(io.BytesIO(data))
    return pdf.get_filename(), "\n".join(page.extract_text() for page in reader.pages)


async def test_weekly_report_has_a_pdf_with_the_figures_of_the_week(shop, make_forecaster, smtp):
    from tests.integration.analytics.web_reference import WebReference

    store, events = shop
    async with make_forecaster(store, reports=report_settings(smtp)) as (app, http):
        r = await http.post("/v1/reports/weekly")
    assert r.status_code == 200, r.text
    mail = smtp.wait_for("the weekly report", lambda m: "Weekly KPIs" in m.subject, timeout_s=10)
    name, text = pdf_text(mail)
    assert name == "observatory-weekly-2026-02-25.pdf"
    flat = " ".join(text.split())
    week = Reference(events, utc(2026, 2, 25), utc(2026, 3, 4)).kpi_summary()[0]
    prev = Reference(events, utc(2026, 2, 18), utc(2026, 2, 25)).kpi_summary()[0]
    assert f"Revenue {week[3]:,.2f} {prev[3]:,.2f} {(week[3] - prev[3]) / prev[3] * 100:+.1f}%" in flat
    assert f"Orders {week[2]:,} {prev[2]:,}" in flat
    web = WebReference(events, utc(2026, 2, 25), utc(2026, 3, 4)).overview()[0]
    web_prev = WebReference(events, utc(2026, 2, 18), utc(2026, 2, 25)).overview()[0]
    assert f"Sessions {web[2]:,} {web_prev[2]:,}" in flat
    assert f"Visitors {web[0]:,} {web_prev[0]:,}" in flat
    assert f"Bounce rate {web[4] * 100:.2f}% {web_prev[4] * 100:.2f}%" in flat
    assert "Anomalies" in flat and "revenue: days of the period outside the model's forecast band" in flat
    assert "(best model by backtest)" in flat  # the note names the served model
    assert "attached: observatory-weekly-2026-02-25.pdf" in mail.part("html")


async def test_monthly_report_pdf_has_year_over_year_and_churn(shop, make_forecaster, smtp):
    store, events = shop
    async with make_forecaster(store, reports=report_settings(smtp)) as (app, http):
        r = await http.post("/v1/reports/monthly")
    assert r.status_code == 200, r.text
    assert r.json()["period"] == "February 2026"
    mail = smtp.wait_for("the monthly report", lambda m: "Monthly KPIs" in m.subject, timeout_s=10)
    assert mail.subject == "[Observatory] Monthly KPIs February 2026"
    name, text = pdf_text(mail)
    flat = " ".join(text.split())
    feb = Reference(events, utc(2026, 2, 1), utc(2026, 3, 1)).kpi_summary()[0]
    jan = Reference(events, utc(2026, 1, 1), utc(2026, 2, 1)).kpi_summary()[0]
    assert name == "observatory-monthly-2026-02-01.pdf"
    assert f"Revenue {feb[3]:,.2f} {jan[3]:,.2f}" in flat
    assert "Year over year" in flat and f"Revenue {feb[3]:,.2f} 0.00" in flat  # no history a year back
    assert "Churn analysis" in flat and "No churn scores yet" in flat
