"""The weekly and monthly reports as PDF (ReportLab: pure Python, no browser engine): the KPI table
against the previous period, web traffic, forecast chart and anomalies; monthly adds year-over-year
KPIs, revenue per month against the year before and the churn analysis."""

from __future__ import annotations

import io

from observatory.reports.kpis import KpiRow


def _table(rows: list[list[str]], widths: list[float], header_bg: str = "#f0f3f6"):
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    t = Table(rows, colWidths=widths, hAlign="LEFT")
    t.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor(header_bg)),
                ("FONTNAME", (0, 0), (-1, 0), "Helvetica-Bold"),
                ("FONTSIZE", (0, 0), (-1, -1), 9),
                ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#d0d7de")),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
                ("TOPPADDING", (0, 0), (-1, -1), 3),
            ]
        )
    )
    return t


def _kpis(rows: list[KpiRow], previous: str) -> list[list[str]]:
    return [["KPI", "This period", previous, "Change"]] + [
        [r.label, r.formatted(r.current), r.formatted(r.previous), r.change_text] for r in rows
    ]


def _image(png: bytes, width_cm: float = 17):
    from reportlab.lib.units import cm
    from reportlab.platypus import Image

    img = Image(io.BytesIO(png))
    scale = width_cm * cm / img.imageWidth
    img.drawWidth, img.drawHeight = img.imageWidth * scale, img.imageHeight * scale
    return img


def render_pdf(report) -> bytes:
    """`report`: a mail.Report whose `extras` is set (weekly or monthly)."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import cm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer

    styles = getSampleStyleSheet()
    h1, h2, body, small = styles["Title"], styles["Heading2"], styles["BodyText"], styles["Italic"]
    x, p = report.extras, report.period
    previous = "Previous month" if report.kind == "monthly" else "Previous week"
    story = [
        Paragraph(f"{report.kind.capitalize()} report: {p.label}", h1),
        Paragraph(
            f"Period {p.start:%Y-%m-%d} to {p.end:%Y-%m-%d} (exclusive), UTC, compared with "
            f"{p.previous_start:%Y-%m-%d} to {p.previous_end:%Y-%m-%d}. Each event counted once.",
            body,
        ),
        Spacer(1, 0.3 * cm),
        Paragraph("Business KPIs", h2),
        _table(_kpis(report.rows, previous), [8 * cm, 3 * cm, 3 * cm, 2.2 * cm]),
        Spacer(1, 0.3 * cm),
        Paragraph("Web traffic", h2),
        _table(_kpis(x.web, previous), [8 * cm, 3 * cm, 3 * cm, 2.2 * cm]),
        Spacer(1, 0.3 * cm),
        Paragraph(f"Forecast: {report.metric}", h2),
        _image(report.chart_png),
        Paragraph(report.forecast_note, small),
        Paragraph("Anomalies", h2),
        Paragraph(x.anomaly_note, body),
    ]
    if x.anomalies:
        story.append(
            _table(
                [["Day", "Actual", "Expected", "Band", ""]]
                + [
                    [
                        a["day"],
                        f"{a['actual']:,.2f}",
                        f"{a['expected']:,.2f}",
                        f"{a['lower']:,.2f} – {a['upper']:,.2f}",
                        a["direction"],
                    ]
                    for a in x.anomalies
                ],
                [3 * cm, 3 * cm, 3 * cm, 5 * cm, 2 * cm],
            )
        )
    if report.kind == "monthly":
        story += [
            Spacer(1, 0.3 * cm),
            Paragraph("Year over year", h2),
            _table(_kpis(x.yoy, "A year earlier"), [8 * cm, 3 * cm, 3 * cm, 2.2 * cm]),
        ]
        story += [_image(png) for _, png in x.charts[:1]]
        story.append(Paragraph("Churn analysis", h2))
        if x.churn:
            overall = next(r for r in x.churn if r["segment"] == "all")
            story.append(
                Paragraph(
                    f"Scores at {x.churn_cutoff}: {overall['users']:,} active users, mean churn probability "
                    f"{overall['mean_probability'] * 100:.1f}%, {overall['at_risk']:,} at risk (probability ≥ 50%). "
                    "Logistic regression on six months of engagement (recency, frequency, revenue, sessions, "
                    "support tickets, refunds, payment failures), evaluated on a time-based holdout.",
                    body,
                )
            )
            story.append(
                _table(
                    [["Segment", "Value", "Users", "Mean probability", "At risk"]]
                    + [
                        [
                            r["segment"],
                            r["value"] or "unknown",
                            f"{r['users']:,}",
                            f"{r['mean_probability'] * 100:.1f}%",
                            f"{r['at_risk']:,}",
                        ]
                        for r in x.churn
                        if r["segment"] != "all"
                    ][:40],
                    [3 * cm, 4 * cm, 2.5 * cm, 3.5 * cm, 2.5 * cm],
                )
            )
            story += [_image(png) for _, png in x.charts[1:]]
        else:
            story.append(
                Paragraph(
                    "No churn scores yet (the forecaster scores monthly once two months of activity exist).", body
                )
            )
    story.append(Paragraph(f"Generated by Observatory at {report.generated_at:%Y-%m-%d %H:%M} UTC.", small))
    buf = io.BytesIO()
    SimpleDocTemplate(
        buf,
        pagesize=A4,
        title=f"{report.kind.capitalize()} report {p.label}",
        author="Observatory",
        leftMargin=2 * cm,
        rightMargin=2 * cm,
        topMargin=1.5 * cm,
        bottomMargin=1.5 * cm,
    ).build(story)
    return buf.getvalue()
