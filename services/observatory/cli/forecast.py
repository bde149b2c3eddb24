"""`observatory forecast backtest` and `observatory report daily|weekly|monthly`."""

from __future__ import annotations

import json
import sys
from datetime import UTC
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from observatory.cli.common import (
    boot,
    env_settings,
    fail,
    local_defaults,
    read_key_header,
)

app = typer.Typer()  # top-level commands (report)
forecast_app = typer.Typer(help="Forecast models of business metrics.", no_args_is_help=True)


def _store_or_url_hint(exc: Exception) -> str:
    msg = str(exc)
    if "lock" in msg.lower():
        msg += (
            "\n(the embedded store is held by the running stack: add --url http://127.0.0.1:8081 "
            "(its private listener) to ask the running service instead)"
        )
    return msg


def _forecast_service():
    """A ForecastService on the configured store (no scheduler), for one-shot commands."""
    from observatory import __version__
    from observatory.forecaster.app import build_forecaster
    from observatory.metrics import new_registry
    from observatory.settings import ForecasterSettings, ReportSettings, StoreSettings
    from observatory.store.client import StoreError

    local_defaults()
    try:
        fc = build_forecaster(
            env_settings(ForecasterSettings),
            env_settings(StoreSettings),
            new_registry("cli", __version__),
            env_settings(ReportSettings),
        )
    except StoreError as exc:
        fail(_store_or_url_hint(exc))
    return fc


@forecast_app.command("backtest")
def forecast_backtest(
    metric: Annotated[str | None, typer.Argument(help="revenue, orders, dau, signups or events:<event_name>")] = None,
    granularity: Annotated[str, typer.Option(help="day or hour")] = "day",
    horizon: Annotated[int, typer.Option(help="buckets held out per fold")] = 30,
    folds: Annotated[int, typer.Option(help="rolling-origin folds")] = 5,
    url: Annotated[
        str | None, typer.Option(help="ask a running forecaster/all-in-one (its PRIVATE listener) instead")
    ] = None,
    read_key: Annotated[str | None, typer.Option(help="with --url: default OBS_READ_KEY or .local/read-key")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    csv: Annotated[
        Path | None,
        typer.Option(help="backtest the series in this file (columns ds,y) instead of a metric; prints JSON"),
    ] = None,
):
    """The served model (selection + calibrated band) on rolling holdouts, against the baselines."""
    if csv is not None or metric is None:
        if csv is None or metric is not None or url:
            fail("give a METRIC or --csv FILE (without --url)")
        from observatory.forecaster.config import model_config
        from observatory.forecaster.csvfile import CsvError, backtest_csv
        from observatory.forecaster.model import InsufficientHistory
        from observatory.settings import ForecasterSettings

        if granularity not in ("day", "hour"):
            fail("--granularity must be day or hour")
        f = env_settings(ForecasterSettings)
        try:
            with typer.progressbar(length=folds, label=f"backtest {csv.name}: {folds} fold(s)", file=sys.stderr) as bar:
                result = backtest_csv(
                    csv,
                    granularity,
                    horizon,
                    folds,
                    f.min_history_days if granularity == "day" else f.min_history_hours,
                    model_config(f),
                    bar.update,
                )
        except CsvError as exc:
            fail(str(exc), 2)
        except InsufficientHistory as exc:
            fail(f"{csv}: {exc} for {folds} fold(s) of {horizon}", 3)
        typer.echo(json.dumps(result, indent=2))
        return
    if url:
        import httpx

        try:
            r = httpx.get(
                f"{url.rstrip('/')}/v1/backtest/{metric}",
                timeout=300,
                headers=read_key_header(read_key),
                params={"granularity": granularity, "horizon": horizon, "folds": folds},
            )
        except httpx.HTTPError as exc:
            fail(f"cannot reach {url}: {exc}")
        if r.status_code != 200:
            fail(
                f"{r.status_code}: {r.json().get('message', r.text) if r.headers.get('content-type', '').startswith('application/json') else r.text}"
            )
        result = r.json()
    else:
        from observatory.forecaster.evaluation import backtest
        from observatory.forecaster.model import InsufficientHistory
        from observatory.forecaster.series import GRANULARITIES, UnknownMetric

        if granularity not in GRANULARITIES:
            fail(f"--granularity must be one of {', '.join(GRANULARITIES)}")
        boot("forecast")
        fc = _forecast_service()
        svc = fc.service
        try:
            svc.check_metric(metric)
            series = svc.history(metric, granularity, extra=horizon * folds)
            result = {
                "metric": metric,
                **backtest(series, granularity, horizon, folds, svc.min_points(granularity), svc.config).as_dict(),
            }
        except UnknownMetric:
            fail(f"unknown metric {metric!r} (revenue, orders, dau, signups, events:<event_name>)", 2)
        except InsufficientHistory as exc:
            fail(f"{metric}: {exc} for {folds} fold(s) of {horizon}", 3)
        finally:
            fc.close()
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return

    def pct(v):
        return "n/a" if v is None else f"{v * 100:.1f}%"

    def num(v):
        return "n/a" if v is None else f"{v:.3f}"

    typer.echo(
        f"{result['metric']} ({result['granularity']}): {result['folds']} fold(s) x {result['horizon']} "
        f"buckets held out, seasonal period {result['season']}"
    )
    models = sorted({r["model"] for r in result.get("fold_results", [])})
    typer.echo(
        f"  served ({', '.join(models)})  MAPE {pct(result['mape']):>7}   MASE {num(result['mase'])}   "
        f"MAE {result['mae']:.2f}   coverage {pct(result.get('coverage'))} (nominal {pct(result.get('interval_width'))})"
    )
    halves = result.get("coverage_halves") or []
    if halves:
        typer.echo(
            f"  coverage by horizon half {' / '.join(pct(v) for v in halves)}   outside the band: "
            f"below {pct(result.get('below'))}, above {pct(result.get('above'))} (what the band alerts fire on)"
        )
    typer.echo(
        f"  seasonal naive (week)  MAPE {pct(result['naive_mape']):>7}   MASE {num(result['naive_mase'])}   "
        f"MAE {num(result['naive_mae'])}"
    )
    rel, best = result["relative_mae"], result.get("best_baseline")
    verdict = "n/a" if rel is None else ("beats every baseline" if rel < 1 else "does NOT beat the best baseline")
    typer.echo(f"  MAE(served) / MAE(best baseline: {best}) = {num(rel)}: {verdict}")


class ReportKind(str, Enum):
    daily = "daily"
    weekly = "weekly"
    monthly = "monthly"


@app.command()
def report(
    kind: Annotated[
        ReportKind,
        typer.Argument(
            help="daily: yesterday vs the day before; weekly: last 7 "
            "days (+ PDF); monthly: last month (+ PDF, YoY, churn)"
        ),
    ],
    to: Annotated[str | None, typer.Option(help="comma-separated recipients (default OBS_REPORT_RECIPIENTS)")] = None,
    out: Annotated[Path | None, typer.Option(help="write the email (.eml) here instead of sending it")] = None,
    url: Annotated[
        str | None, typer.Option(help="ask a running forecaster/all-in-one (its PRIVATE listener) to send it")
    ] = None,
    read_key: Annotated[
        str | None, typer.Option(help="with --url: an admin key (default OBS_READ_KEY or .local/read-key)")
    ] = None,
):
    """Render the KPI report (table vs previous period, forecast chart) and send it over SMTP."""
    from datetime import datetime

    recipients = [r.strip() for r in to.split(",") if r.strip()] if to else None
    if url:
        import httpx

        try:
            r = httpx.post(
                f"{url.rstrip('/')}/v1/reports/{kind.value}",
                params={"to": to} if to else None,
                timeout=300,
                headers=read_key_header(read_key),
            )
        except httpx.HTTPError as exc:
            fail(f"cannot reach {url}: {exc}")
        if r.status_code != 200:
            fail(f"{r.status_code}: {r.text}")
        typer.echo(f"sent {kind.value} report for {r.json()['period']} to {', '.join(r.json()['recipients'])}")
        return
    from observatory.reports.mail import ReportError, build_report, send, to_message
    from observatory.settings import ReportSettings

    boot("report")
    settings = env_settings(ReportSettings)
    fc = _forecast_service()
    try:
        rep = build_report(kind.value, fc.service.analytics, settings, datetime.now(UTC), fc.service)
        rcpt = recipients if recipients is not None else settings.recipient_list()
        msg = to_message(rep, settings, rcpt or ["undisclosed-recipients:;"])
        if out:
            out.write_bytes(bytes(msg))
            typer.echo(f"wrote {out} ({kind.value} report for {rep.period.label})")
            return
        if not rcpt:
            fail("no recipients: set OBS_REPORT_RECIPIENTS or pass --to (or --out FILE to keep it)")
        send(msg, settings)
    except ReportError as exc:
        fail(str(exc))
    finally:
        fc.close()
    typer.echo(f"sent {kind.value} report for {rep.period.label} to {', '.join(rcpt)}")
