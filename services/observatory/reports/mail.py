"""Build the report (KPI table + forecast chart), render it as an HTML email, send it over SMTP. The
weekly and monthly reports carry a PDF attachment (reports/pdf.py, data from reports/extras.py)."""

from __future__ import annotations

import html
import logging
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import cast

from observatory.reports.chart import forecast_png
from observatory.reports.forecast import ForecastSource
from observatory.reports.kpis import KpiRow, Period, kpi_table, period
from observatory.settings import ReportSettings
from observatory.store.analytics import Analytics

log = logging.getLogger("observatory.reports")
CHART_CID = "forecast-chart"


@dataclass
class Report:
    kind: str
    period: Period
    rows: list[KpiRow]
    metric: str
    chart_png: bytes
    forecast_note: str
    generated_at: datetime
    forecast_points: list[dict] = field(default_factory=list)
    extras: object | None = None  # reports.extras.Extras (weekly, monthly)
    pdf: bytes | None = None

    @property
    def pdf_filename(self) -> str:
        return f"observatory-{self.kind}-{self.period.start:%Y-%m-%d}.pdf"

    @property
    def subject(self) -> str:
        return f"{self.kind.capitalize()} KPIs {self.period.label}"


def build_report(
    kind: str, analytics: Analytics, settings: ReportSettings, now: datetime, forecasts: ForecastSource
) -> Report:
    """Query the KPIs of the period and draw the chart. `forecasts` (the forecaster's ForecastService,
    through the ForecastSource interface) supplies the history and the forecast of
    `settings.forecast_metric`; without enough history the chart shows the actuals and says why
    there is no forecast."""
    p = period(kind, now)
    rows = kpi_table(analytics, p)
    metric = settings.forecast_metric
    history = forecasts.report_history(metric, now, settings.chart_history_days)
    forecast = forecasts.report_forecast(metric, now, settings.chart_forecast_days)
    future, note = forecast.future, forecast.note
    png = forecasts.draw(
        forecast_png, metric, history, future, f"{metric}: last {settings.chart_history_days} days and forecast"
    )
    points = (
        []
        if future is None
        else [
            {
                "ds": r.ds.isoformat(),
                "yhat": float(r.yhat),
                "yhat_lower": float(r.yhat_lower),
                "yhat_upper": float(r.yhat_upper),
            }
            for r in future.itertuples()
        ]
    )
    report = Report(kind, p, rows, metric, png, note, now, points)
    if kind in ("weekly", "monthly"):
        from observatory.reports import extras
        from observatory.reports.pdf import render_pdf

        recent = forecasts.report_history(metric, now, 40)
        report.extras = extras.build(kind, analytics, p, now, forecast.frame, recent, metric, draw=forecasts.draw)
        report.pdf = render_pdf(report)
    return report


def render_html(report: Report) -> str:
    e = html.escape
    lines = []
    for r in report.rows:
        color = {True: "#1a7f37", False: "#cf222e", None: "#57606a"}[r.good]
        lines.append(
            f'<tr data-kpi="{e(r.key)}"><td style="padding:6px 12px;border-bottom:1px solid #eee">{e(r.label)}</td>'
            f'<td class="current" style="padding:6px 12px;text-align:right;border-bottom:1px solid #eee">'
            f"<b>{e(r.formatted(r.current))}</b></td>"
            f'<td class="previous" style="padding:6px 12px;text-align:right;color:#57606a;border-bottom:1px solid #eee">'
            f"{e(r.formatted(r.previous))}</td>"
            f'<td class="change" style="padding:6px 12px;text-align:right;color:{color};border-bottom:1px solid #eee">'
            f"{e(r.change_text)}</td></tr>"
        )
    prev = report.period
    prev_label = (
        "the day before"
        if report.kind == "daily"
        else f"{prev.previous_start:%d %b} – {prev.previous_end - timedelta(days=1):%d %b}"
    )
    pdf_note = (
        f"<p>The full report (web traffic, anomalies{', year over year, churn' if report.kind == 'monthly' else ''}"
        f") is attached: {e(report.pdf_filename)}.</p>\n"
        if report.pdf
        else ""
    )
    return f"""<!doctype html>
<html><body style="font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#24292f;max-width:820px">
<h2 style="margin-bottom:4px">{e(report.kind.capitalize())} KPIs: {e(report.period.label)}</h2>
<p style="color:#57606a;margin-top:0">Period {report.period.start:%Y-%m-%d %H:%M} to {report.period.end:%Y-%m-%d %H:%M} UTC,
compared with {e(prev_label)}. Each event counted once (duplicates removed).</p>
<table id="kpis" style="border-collapse:collapse;font-size:14px">
<thead><tr><th style="text-align:left;padding:6px 12px">KPI</th><th style="text-align:right;padding:6px 12px">This period</th>
<th style="text-align:right;padding:6px 12px">Previous</th><th style="text-align:right;padding:6px 12px">Change</th></tr></thead>
<tbody>
{chr(10).join(lines)}
</tbody></table>
<h3>{e(report.metric)}: actuals and forecast</h3>
<img src="cid:{CHART_CID}" alt="{e(report.metric)} forecast chart" width="800" height="320">
<p style="color:#57606a;font-size:12px">{e(report.forecast_note)}</p>
{pdf_note}<p style="color:#8c959f;font-size:11px">Generated by Observatory at {report.generated_at:%Y-%m-%d %H:%M} UTC.</p>
</body></html>"""


def render_text(report: Report) -> str:
    width = max(len(r.label) for r in report.rows)
    lines = [f"{report.kind.capitalize()} KPIs: {report.period.label}", ""]
    lines += [
        f"{r.label:<{width}}  {r.formatted(r.current):>14}  prev {r.formatted(r.previous):>14}  {r.change_text:>8}"
        for r in report.rows
    ]
    return "\n".join(lines + ["", report.forecast_note, "(the HTML part holds the chart)"]) + "\n"


def to_message(report: Report, settings: ReportSettings, recipients: list[str]) -> EmailMessage:
    msg = EmailMessage()
    msg["Subject"] = f"{settings.subject_prefix} {report.subject}".strip()
    msg["From"] = settings.sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = format_datetime(report.generated_at)
    msg["Message-ID"] = make_msgid(domain=settings.sender.rpartition("@")[2] or "observatory")
    msg.set_content(render_text(report))
    msg.add_alternative(render_html(report), subtype="html")
    html_part = cast("list[EmailMessage]", msg.get_payload())[1]  # multipart/alternative: text, html
    html_part.add_related(
        report.chart_png,
        maintype="image",
        subtype="png",
        cid=f"<{CHART_CID}>",
        filename=f"{report.metric}-forecast.png",
        disposition="inline",
    )
    if report.pdf:
        msg.add_attachment(report.pdf, maintype="application", subtype="pdf", filename=report.pdf_filename)
    return msg


class ReportError(RuntimeError):
    """`status`: 422 when the request cannot work (no recipient), 502 when the SMTP server failed."""

    def __init__(self, message: str, status: int = 502) -> None:
        super().__init__(message)
        self.status = status


def send(msg: EmailMessage, settings: ReportSettings) -> None:
    """Deliver over SMTP (plain, STARTTLS or implicit TLS; login when a username is set)."""
    try:
        if settings.smtp_security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.smtp_host,
                settings.smtp_port,
                timeout=settings.smtp_timeout_s,
                context=ssl.create_default_context(),
            )
        else:
            smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_s)
        with smtp:
            if settings.smtp_security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_username:
                smtp.login(
                    settings.smtp_username, settings.smtp_password.get_secret_value() if settings.smtp_password else ""
                )
            refused = smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise ReportError(f"cannot send the report via {settings.smtp_host}:{settings.smtp_port}: {exc}") from exc
    if refused:
        raise ReportError(f"recipients refused by the SMTP server: {sorted(refused)}")


def send_report(
    kind: str,
    analytics: Analytics,
    settings: ReportSettings,
    now: datetime,
    forecasts: ForecastSource,
    recipients: list[str] | None = None,
) -> Report:
    to = recipients if recipients is not None else settings.recipient_list()
    if not to:
        raise ReportError("no recipients: set OBS_REPORT_RECIPIENTS or pass --to", status=422)
    report = build_report(kind, analytics, settings, now, forecasts)
    send(to_message(report, settings, to), settings)
    log.info("report sent", extra={"kind": kind, "recipients": len(to), "period": report.period.label})
    return report


__all__ = ["Report", "ReportError", "build_report", "render_html", "send", "send_report", "to_message"]
