"""`observatory`: run the services, manage the store, send and generate events, run the local stack."""

from __future__ import annotations

import json
import os
import secrets
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(help="Observatory: event ingest, ClickHouse consumer, forecaster and the local stack.",
                  no_args_is_help=True, pretty_exceptions_enable=False, add_completion=False)
run_app = typer.Typer(help="Run a service in the foreground (settings from OBS_* environment variables).",
                      no_args_is_help=True)
local_app = typer.Typer(help="The local stack without Docker: RabbitMQ + observatory on loopback.",
                        no_args_is_help=True)
app.add_typer(run_app, name="run")
app.add_typer(local_app, name="local")

LOCAL_DIR = Path(os.environ.get("OBS_LOCAL_DIR", Path.cwd() / ".local"))


def _fail(message: str, code: int = 1) -> None:
    typer.secho(f"error: {message}", fg="red", err=True)
    raise typer.Exit(code)


def _settings(cls):
    from pydantic import ValidationError
    try:
        return cls()
    except ValidationError as exc:
        lines = [f"  {'.'.join(map(str, e['loc'])) or cls.__name__}: {e['msg']}" for e in exc.errors()]
        _fail(f"invalid settings ({cls.model_config.get('env_prefix')}*):\n" + "\n".join(lines))


def _local_defaults() -> None:
    """Store commands (query, migrate) default to the local stack's settings when it was set up."""
    env_file = LOCAL_DIR / "observatory.env"
    if env_file.exists():
        for line in env_file.read_text().splitlines():
            key, sep, value = line.partition("=")
            if sep:
                os.environ.setdefault(key, value)


def _read_key(explicit: str | None) -> dict[str, str]:
    """Authorization header for the private (read) API: --read-key, OBS_READ_KEY or .local/read-key."""
    key = explicit or os.environ.get("OBS_READ_KEY")
    if not key and (LOCAL_DIR / "read-key").exists():
        key = (LOCAL_DIR / "read-key").read_text().strip()
    return {"Authorization": f"Bearer {key}"} if key else {}


def _api_key(explicit: str | None) -> str:
    key = explicit or os.environ.get("OBS_API_KEY")
    if not key and (LOCAL_DIR / "api-key").exists():
        key = (LOCAL_DIR / "api-key").read_text().strip()
    if not key:
        _fail("no API key: pass --api-key, set OBS_API_KEY, or start the local stack (`make local`)")
    return key


# -- services ---------------------------------------------------------------------------------------
def _serve(build, public: tuple[str, int], private: tuple[str, int], workers: int = 1) -> None:
    """Both listeners of a service (observatory.listeners): `build` is a Listeners, or for
    workers > 1 the `module:factory` path each worker process imports."""
    from observatory.listeners import Bind, serve
    serve(build, Bind(*public), Bind(*private), workers=workers, access_log=_access_log())


def _access_log() -> bool:
    return os.environ.get("OBS_ACCESS_LOG", "true").lower() not in ("0", "false", "no")


def _boot(service: str):
    from observatory import redact, tracing
    from observatory.logging import mask_client_ip, setup_logging
    from observatory.settings import CommonSettings
    common = _settings(CommonSettings)
    setup_logging(service, common.log_level)
    mask_client_ip(common.masks_client_ip())
    redact.configure(common.redact_properties)
    tracing.setup(common, service)  # nothing when OBS_OTLP_ENDPOINT is unset
    return common


def ingest_app_from_env():
    """Listeners factory, also used by the worker processes of `run ingest --workers N`."""
    from observatory.ingest.app import create_app
    from observatory.settings import ApiSettings, BrokerSettings, IngestSettings
    _boot("ingest")
    return create_app(_settings(IngestSettings), _settings(BrokerSettings), api=_settings(ApiSettings))


def ingest_public_app_from_env():
    """ASGI factory for other servers (the Granian comparison of `make bench`): the public listener
    only, with the shared lifespan."""
    return ingest_app_from_env().public_asgi()


@run_app.command("ingest")
def run_ingest(workers: Annotated[Optional[int], typer.Option(help="worker processes (default: settings)")] = None):
    """HTTP ingest API: validate events, publish to RabbitMQ, 202 once confirmed (public listener);
    /metrics and docs on the private listener (OBS_INGEST_PRIVATE_HOST/PORT)."""
    from observatory.settings import IngestSettings
    _boot("ingest")
    s = _settings(IngestSettings)
    n = workers or s.workers
    build = "observatory.cli:ingest_app_from_env" if n > 1 else ingest_app_from_env()
    _serve(build, (s.host, s.port), (s.private_host, s.private_port), workers=n)


@run_app.command("consumer")
def run_consumer():
    """RabbitMQ → ClickHouse batches; health on OBS_CONSUMER_PORT, metrics on OBS_CONSUMER_METRICS_PORT."""
    from observatory.consumer.app import create_app
    from observatory.settings import BrokerSettings, ConsumerSettings, StoreSettings
    _boot("consumer")
    c = _settings(ConsumerSettings)
    _serve(create_app(_settings(BrokerSettings), c, _settings(StoreSettings)), (c.host, c.port),
           (c.metrics_host, c.metrics_port))


def all_in_one_app():
    """Ingest + consumer + forecaster (routes and scheduler) in one process over one store."""
    from observatory import __version__
    from observatory.consumer.app import build_consumer
    from observatory.ingest.app import create_app
    from observatory.metrics import new_registry
    from observatory.settings import ApiSettings, BrokerSettings, ConsumerSettings, IngestSettings, StoreSettings
    broker, store = _settings(BrokerSettings), _settings(StoreSettings)
    registry = new_registry("all-in-one", __version__)
    consumer, _client = build_consumer(broker, _settings(ConsumerSettings), store, registry)
    # the forecaster shares the process and its chDB folder (a second client on the same folder)
    from observatory.forecaster.app import build_forecaster
    from observatory.settings import ForecasterSettings, ReportSettings
    forecaster = build_forecaster(_settings(ForecasterSettings), store, registry, _settings(ReportSettings))
    forecaster.scheduler.closers.append(forecaster.close)
    listeners = create_app(_settings(IngestSettings), broker, registry=registry,
                           companions=[consumer, forecaster.scheduler], routers=[forecaster.router],
                           service_name="all-in-one", api=_settings(ApiSettings))
    listeners.state.forecaster = forecaster
    return listeners


@run_app.command("forecaster")
def run_forecaster():
    """Forecasts, analytics API, anomaly gauges and scheduled reports (OBS_FORECASTER_*, OBS_REPORT_*);
    the API is on the private listener (OBS_FORECASTER_PRIVATE_HOST/PORT) and needs a read key."""
    from observatory.forecaster.app import create_app
    from observatory.settings import ApiSettings, ForecasterSettings, ReportSettings, StoreSettings
    _boot("forecaster")
    f = _settings(ForecasterSettings)
    _serve(create_app(f, _settings(StoreSettings), _settings(ReportSettings), api=_settings(ApiSettings)),
           (f.host, f.port), (f.private_host, f.private_port))


@run_app.command("all-in-one")
def run_all_in_one():
    """Ingest, consumer and forecaster in ONE process (the embedded ClickHouse allows one process per folder)."""
    from observatory.settings import IngestSettings
    _boot("all-in-one")
    s = _settings(IngestSettings)
    _serve(all_in_one_app(), (s.host, s.port), (s.private_host, s.private_port))


# -- forecasts and reports ---------------------------------------------------------------------------
forecast_app = typer.Typer(help="Forecast models of business metrics.", no_args_is_help=True)
app.add_typer(forecast_app, name="forecast")


def _store_or_url_hint(exc: Exception) -> str:
    msg = str(exc)
    if "lock" in msg.lower():
        msg += ("\n(the embedded store is held by the running stack: add --url http://127.0.0.1:8081 "
                "(its private listener) to ask the running service instead)")
    return msg


def _forecast_service():
    """A ForecastService on the configured store (no scheduler), for one-shot commands."""
    from observatory import __version__
    from observatory.forecaster.app import build_forecaster
    from observatory.metrics import new_registry
    from observatory.settings import ForecasterSettings, ReportSettings, StoreSettings
    from observatory.store.client import StoreError
    _local_defaults()
    try:
        fc = build_forecaster(_settings(ForecasterSettings), _settings(StoreSettings), new_registry("cli", __version__),
                              _settings(ReportSettings))
    except StoreError as exc:
        _fail(_store_or_url_hint(exc))
    return fc


@forecast_app.command("backtest")
def forecast_backtest(
        metric: Annotated[Optional[str], typer.Argument(help="revenue, orders, dau, signups or events:<event_name>")] = None,
        granularity: Annotated[str, typer.Option(help="day or hour")] = "day",
        horizon: Annotated[int, typer.Option(help="buckets held out per fold")] = 30,
        folds: Annotated[int, typer.Option(help="rolling-origin folds")] = 5,
        url: Annotated[Optional[str], typer.Option(help="ask a running forecaster/all-in-one (its PRIVATE "
                                                         "listener) instead")] = None,
        read_key: Annotated[Optional[str], typer.Option(help="with --url: default OBS_READ_KEY or .local/read-key")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
        csv: Annotated[Optional[Path], typer.Option(help="backtest the series in this file (columns ds,y) instead "
                                                         "of a metric; prints JSON")] = None):
    """The served model (selection + calibrated band) on rolling holdouts, against the baselines."""
    if csv is not None or metric is None:
        if csv is None or metric is not None or url:
            _fail("give a METRIC or --csv FILE (without --url)")
        from observatory.forecaster.config import model_config
        from observatory.forecaster.csvfile import CsvError, backtest_csv
        from observatory.forecaster.model import InsufficientHistory
        from observatory.settings import ForecasterSettings
        if granularity not in ("day", "hour"):
            _fail("--granularity must be day or hour")
        f = _settings(ForecasterSettings)
        try:
            with typer.progressbar(length=folds, label=f"backtest {csv.name}: {folds} fold(s)", file=sys.stderr) as bar:
                result = backtest_csv(csv, granularity, horizon, folds,
                                      f.min_history_days if granularity == "day" else f.min_history_hours,
                                      model_config(f), bar.update)
        except CsvError as exc:
            _fail(str(exc), 2)
        except InsufficientHistory as exc:
            _fail(f"{csv}: {exc} for {folds} fold(s) of {horizon}", 3)
        typer.echo(json.dumps(result, indent=2))
        return
    if url:
        import httpx
        try:
            r = httpx.get(f"{url.rstrip('/')}/v1/backtest/{metric}", timeout=300, headers=_read_key(read_key),
                          params={"granularity": granularity, "horizon": horizon, "folds": folds})
        except httpx.HTTPError as exc:
            _fail(f"cannot reach {url}: {exc}")
        if r.status_code != 200:
            _fail(f"{r.status_code}: {r.json().get('message', r.text) if r.headers.get('content-type', '').startswith('application/json') else r.text}")
        result = r.json()
    else:
        from observatory.forecaster.evaluation import backtest
        from observatory.forecaster.model import InsufficientHistory
        from observatory.forecaster.series import GRANULARITIES, UnknownMetric
        if granularity not in GRANULARITIES:
            _fail(f"--granularity must be one of {', '.join(GRANULARITIES)}")
        _boot("forecast")
        fc = _forecast_service()
        svc = fc.service
        try:
            svc.check_metric(metric)
            series = svc.history(metric, granularity, extra=horizon * folds)
            result = {"metric": metric, **backtest(series, granularity, horizon, folds, svc.min_points(granularity),
                                                   svc.config).as_dict()}
        except UnknownMetric:
            _fail(f"unknown metric {metric!r} (revenue, orders, dau, signups, events:<event_name>)", 2)
        except InsufficientHistory as exc:
            _fail(f"{metric}: {exc} for {folds} fold(s) of {horizon}", 3)
        finally:
            fc.close()
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return

    def pct(v):
        return "n/a" if v is None else f"{v * 100:.1f}%"

    def num(v):
        return "n/a" if v is None else f"{v:.3f}"

    typer.echo(f"{result['metric']} ({result['granularity']}): {result['folds']} fold(s) x {result['horizon']} "
               f"buckets held out, seasonal period {result['season']}")
    models = sorted({r["model"] for r in result.get("fold_results", [])})
    typer.echo(f"  served ({', '.join(models)})  MAPE {pct(result['mape']):>7}   MASE {num(result['mase'])}   "
               f"MAE {result['mae']:.2f}   coverage {pct(result.get('coverage'))} (nominal {pct(result.get('interval_width'))})")
    typer.echo(f"  seasonal naive (week)  MAPE {pct(result['naive_mape']):>7}   MASE {num(result['naive_mase'])}   "
               f"MAE {num(result['naive_mae'])}")
    rel, best = result["relative_mae"], result.get("best_baseline")
    verdict = "n/a" if rel is None else ("beats every baseline" if rel < 1 else "does NOT beat the best baseline")
    typer.echo(f"  MAE(served) / MAE(best baseline: {best}) = {num(rel)}: {verdict}")


class ReportKind(str, Enum):
    daily = "daily"
    weekly = "weekly"
    monthly = "monthly"


@app.command()
def report(kind: Annotated[ReportKind, typer.Argument(help="daily: yesterday vs the day before; weekly: last 7 "
                                                              "days (+ PDF); monthly: last month (+ PDF, YoY, churn)")],
           to: Annotated[Optional[str], typer.Option(help="comma-separated recipients (default OBS_REPORT_RECIPIENTS)")] = None,
           out: Annotated[Optional[Path], typer.Option(help="write the email (.eml) here instead of sending it")] = None,
           url: Annotated[Optional[str], typer.Option(help="ask a running forecaster/all-in-one (its PRIVATE "
                                                      "listener) to send it")] = None,
           read_key: Annotated[Optional[str], typer.Option(help="with --url: an admin key (default OBS_READ_KEY "
                                                           "or .local/read-key)")] = None):
    """Render the KPI report (table vs previous period, forecast chart) and send it over SMTP."""
    from datetime import datetime, timezone
    recipients = [r.strip() for r in to.split(",") if r.strip()] if to else None
    if url:
        import httpx
        try:
            r = httpx.post(f"{url.rstrip('/')}/v1/reports/{kind.value}", params={"to": to} if to else None, timeout=300,
                           headers=_read_key(read_key))
        except httpx.HTTPError as exc:
            _fail(f"cannot reach {url}: {exc}")
        if r.status_code != 200:
            _fail(f"{r.status_code}: {r.text}")
        typer.echo(f"sent {kind.value} report for {r.json()['period']} to {', '.join(r.json()['recipients'])}")
        return
    from observatory.reports.mail import ReportError, build_report, send, to_message
    from observatory.settings import ReportSettings
    _boot("report")
    settings = _settings(ReportSettings)
    fc = _forecast_service()
    try:
        rep = build_report(kind.value, fc.service.analytics, settings, datetime.now(timezone.utc), fc.service)
        rcpt = recipients if recipients is not None else settings.recipient_list()
        msg = to_message(rep, settings, rcpt or ["undisclosed-recipients:;"])
        if out:
            out.write_bytes(bytes(msg))
            typer.echo(f"wrote {out} ({kind.value} report for {rep.period.label})")
            return
        if not rcpt:
            _fail("no recipients: set OBS_REPORT_RECIPIENTS or pass --to (or --out FILE to keep it)")
        send(msg, settings)
    except ReportError as exc:
        _fail(str(exc))
    finally:
        fc.close()
    typer.echo(f"sent {kind.value} report for {rep.period.label} to {', '.join(rcpt)}")


# -- store -------------------------------------------------------------------------------------------
@app.command()
def migrate():
    """Apply pending ClickHouse migrations (also done at consumer start)."""
    from observatory.settings import StoreSettings
    from observatory.store.client import StoreError, connect
    from observatory.store.migrate import migrate as run_migrations
    _boot("migrate")
    _local_defaults()
    s = _settings(StoreSettings)
    try:
        client = connect(s)
        done = run_migrations(client, s)
        client.close()
    except StoreError as exc:
        _fail(str(exc))
    typer.echo(f"applied {len(done)} migration(s)" + "".join(f"\n  {m.version:04d}_{m.name}" for m in done)
               if done else "schema is up to date")


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


def _query_via_api(url: str, sql: str, read_key: str | None) -> tuple[list[str], list[list]]:
    """`observatory query` through a running stack's PRIVATE listener (POST /v1/query, read key)."""
    import httpx

    from observatory.store.sql import READ_KEYWORDS, first_keyword, read_statement
    if read_statement(sql) is None:
        _fail(f"refused: through the running stack's API only read-only statements run ({', '.join(READ_KEYWORDS)}); "
              f"this one starts with {first_keyword(sql) or 'nothing'}. To write, stop the stack (`make local-down`): "
              "`observatory query` then opens the embedded store itself.", 2)
    headers = _read_key(read_key)
    if not headers:
        _fail(f"no read key for {url}: pass --read-key, set OBS_READ_KEY, or start the local stack (`make local` "
              "writes .local/read-key)")
    try:
        r = httpx.post(f"{url.rstrip('/')}/v1/query", json={"sql": sql}, headers=headers, timeout=120)
    except httpx.HTTPError as exc:
        _fail(f"cannot reach the private API at {url}: {exc}")
    body = r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
    if r.status_code != 200:
        _fail(f"{r.status_code} {body.get('error', '')}: {body.get('message', r.text[:300])}", 2 if r.status_code == 400 else 1)
    return body["columns"], body["rows"]


@app.command()
def query(sql: Annotated[str, typer.Argument(help="SQL; the session's database is OBS_CLICKHOUSE_DATABASE, and "
                                                  "`{db}` is replaced by it")],
          fmt: Annotated[OutputFormat, typer.Option("--format", "-f")] = OutputFormat.table,
          dsn: Annotated[Optional[str], typer.Option(help="ClickHouse DSN (default: OBS_CLICKHOUSE_DSN)")] = None,
          url: Annotated[Optional[str], typer.Option(help="ask this PRIVATE listener (POST /v1/query, read-only) "
                                                         "instead of opening the store")] = None,
          read_key: Annotated[Optional[str], typer.Option(help="for the API: default OBS_READ_KEY or "
                                                              ".local/read-key")] = None):
    """Run a query and print the rows. Opens the store itself; while the local stack holds the embedded
    store, asks the stack's private API instead (read-only statements). stderr says which."""
    from observatory.settings import StoreSettings
    from observatory.store import sql as adhoc
    from observatory.store.client import StoreError, chdb_path, held_elsewhere
    _local_defaults()
    s = _settings(StoreSettings)
    if dsn:
        s = s.model_copy(update={"dsn": dsn})
    folder = chdb_path(s.dsn)

    def running_stack() -> str:
        """The local stack's private listener (from .local/observatory.env) when it holds the folder."""
        where = f"http://{os.environ.get('OBS_INGEST_PRIVATE_HOST', '127.0.0.1').replace('0.0.0.0', '127.0.0.1')}:" \
                f"{os.environ.get('OBS_INGEST_PRIVATE_PORT', '8081')}"
        typer.echo(f"query: the embedded store {folder} is held by the running stack; asking its private API "
                   f"{where}/v1/query (read-only statements)", err=True)
        return where

    if url is not None:
        typer.echo(f"query: asking {url}/v1/query (read-only statements)", err=True)
    elif folder is not None and not dsn and held_elsewhere(folder):
        url = running_stack()
    else:
        try:
            client = adhoc.open_session(s)
        except StoreError as exc:
            if dsn or folder is None or not held_elsewhere(folder):   # (taken since the check above)
                _fail(str(exc))
            url = running_stack()
        except Exception as exc:  # noqa: BLE001 - e.g. a server that refuses the login: its message
            _fail(adhoc.first_line(exc))
        else:
            typer.echo(f"query: {adhoc.where(s)} (opened directly)", err=True)
            try:
                rows = adhoc.run(client, sql, s.database)
            except Exception as exc:  # noqa: BLE001 - show the store's message, not a traceback
                _fail(adhoc.first_line(exc))
            finally:
                client.close()
            names, data = rows.columns, rows.rows
    if url is not None:
        names, data = _query_via_api(url, sql, read_key)
    _print_rows(names, data, fmt)


def _print_rows(names: list[str], rows: list[list], fmt: OutputFormat) -> None:
    """Rows already encoded by store.sql.jsonable (both query paths), so both print the same."""
    if fmt == OutputFormat.json:
        for row in rows:
            typer.echo(json.dumps(dict(zip(names, row)), ensure_ascii=False))
    elif fmt == OutputFormat.csv:
        import csv
        w = csv.writer(sys.stdout)
        w.writerow(names)
        w.writerows(rows)
    else:
        from rich.console import Console
        from rich.table import Table
        table = Table(*names)
        for row in rows:
            table.add_row(*(str(v) for v in row))
        Console().print(table)
        typer.echo(f"{len(rows)} row(s)", err=True)


# -- events ------------------------------------------------------------------------------------------
@app.command()
def send(event_name: str,
         user_id: Annotated[str, typer.Option("--user", help="user id")] = "cli-user",
         prop: Annotated[Optional[list[str]], typer.Option("--prop", "-p",
                                                           help="property key=value (JSON values allowed)")] = None,
         url: Annotated[str, typer.Option(envvar="OBS_INGEST_URL")] = "http://127.0.0.1:8080",
         api_key: Annotated[Optional[str], typer.Option(help="default: OBS_API_KEY or .local/api-key")] = None):
    """Send one event, e.g. `observatory send purchase_completed -p order_id=o1 -p total_value=9.5 ...`."""
    import httpx
    props = {}
    for item in prop or []:
        key, sep, raw = item.partition("=")
        if not sep:
            _fail(f"--prop {item!r} is not key=value")
        try:
            props[key] = json.loads(raw)
        except json.JSONDecodeError:
            props[key] = raw
    body = {"event_name": event_name, "user_id": user_id, "properties": props}
    try:
        r = httpx.post(f"{url}/v1/events", json=body, headers={"Authorization": f"Bearer {_api_key(api_key)}"},
                       timeout=10)
    except httpx.HTTPError as exc:
        _fail(f"cannot reach ingest at {url}: {exc}")
    typer.echo(f"{r.status_code} {r.text}")
    raise typer.Exit(0 if r.status_code == 202 else 1)


@app.command()
def demo(rate: Annotated[float, typer.Option(help="live events per second (0: none)")] = 20.0,
         days: Annotated[int, typer.Option(help="first backfill this many days of history")] = 0,
         duration: Annotated[float, typer.Option(help="seconds of live traffic (0: until Ctrl-C)")] = 0.0,
         sessions_per_day: Annotated[float, typer.Option(help="history volume")] = 200.0,
         seed: int = 7,
         url: Annotated[str, typer.Option(envvar="OBS_INGEST_URL")] = "http://127.0.0.1:8080",
         api_key: Annotated[Optional[str], typer.Option()] = None,
         door: Annotated[str, typer.Option(help="posthog (/batch/, PostHog-shaped events) or native (/v1/events)")] = "posthog",
         churn_users: Annotated[int, typer.Option(help="users with known churn in a backfill of >= 60 days")] = 300):
    """Webshop traffic generator: browser sessions (pageviews, referrers, UTM, user agents, client IPs from
    documentation ranges) and a purchase funnel with weekly seasonality."""
    from observatory.demo.sender import run_demo
    sys.exit(run_demo(url, _api_key(api_key), rate=rate, days=days, duration=duration,
                      sessions_per_day=sessions_per_day, seed=seed, door=door, churn_users=churn_users))


# -- operations --------------------------------------------------------------------------------------
@app.command()
def keygen(name: Annotated[str, typer.Argument(help="who the key is for, e.g. web, backend, analyst")],
           read: Annotated[bool, typer.Option("--read", help="a read key (OBS_API_KEYS): analytics, forecasts")] = False,
           admin: Annotated[bool, typer.Option("--admin", help="a read key that may also trigger reports")] = False):
    """Make an API key: prints the key (give it to its user) and the entry for the settings.
    Default: an ingest (write-only) key for OBS_INGEST_API_KEYS; --read/--admin: a key for OBS_API_KEYS."""
    from observatory.settings import hash_key
    key = ("obs_r_" if read or admin else "obs_") + secrets.token_urlsafe(24)
    if read or admin:
        scope = "admin" if admin else "read"
        typer.echo(f"key:   {key}\nentry: {name}:sha256:{hash_key(key)}:{scope}   (add to OBS_API_KEYS)")
    else:
        typer.echo(f"key:   {key}\nentry: {name}:sha256:{hash_key(key)}   (add to OBS_INGEST_API_KEYS)")


@app.command()
def topology(out: Annotated[Optional[Path], typer.Option(help="write here instead of stdout")] = None):
    """Print the RabbitMQ topology as a definitions file (for the compose broker)."""
    from observatory.broker.topology import definitions
    from observatory.settings import BrokerSettings
    doc = json.dumps(definitions(_settings(BrokerSettings)), indent=2) + "\n"
    if out:
        out.write_text(doc)
    else:
        typer.echo(doc, nl=False)


# -- provisioning of the Docker stack ---------------------------------------------------------------
class SetupTarget(str, Enum):
    all = "all"
    elasticsearch = "elasticsearch"
    kibana = "kibana"
    metabase = "metabase"
    grafana = "grafana"


@app.command()
def setup(target: Annotated[SetupTarget, typer.Argument(help="what to provision (all: in dependency order)")]):
    """Provision the compose stack (idempotent): Elasticsearch users/ILM/template, Kibana data view and
    saved objects, Metabase admin/database/dashboards, Grafana checks. Settings: OBS_SETUP_*."""
    from observatory.setup.config import SetupSettings
    from observatory.setup.http import SetupError
    from observatory.setup.runner import run
    _boot("setup")
    try:
        run(target.value, _settings(SetupSettings))
    except SetupError as exc:
        _fail(str(exc))
    typer.echo(f"setup {target.value}: done")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True}, add_help_option=False)
def bench(ctx: typer.Context):
    """Benchmarks with same-run ceilings (`observatory bench --help` for sections)."""
    from observatory.bench.runner import main as bench_main
    sys.exit(bench_main(ctx.args))


@local_app.command("up")
def local_up():
    """Start (or keep) the local stack; prints URLs and the development API key."""
    from observatory.localstack.stack import up
    sys.exit(up(LOCAL_DIR))


@local_app.command("down")
def local_down():
    """Stop exactly this stack: its supervisord, every program, and any leftover of a killed supervisord."""
    from observatory.localstack.stack import down
    sys.exit(down(LOCAL_DIR))


@local_app.command("status")
def local_status():
    """Every program's state, pid, uptime and readiness (exit 1 unless all are running and ready)."""
    from observatory.localstack.stack import status
    sys.exit(status(LOCAL_DIR))


@local_app.command("soak")
def local_soak(seconds: Annotated[float, typer.Option(help="traffic duration")] = 180.0,
               kill_every: Annotated[float, typer.Option(help="mean seconds between two kill -9")] = 20.0,
               seed: Annotated[int, typer.Option(help="random seed (which component, when)")] = 1,
               keep: Annotated[bool, typer.Option(help="keep the private stack's folder")] = False):
    """Mixed traffic against a private supervised stack with random kill -9; prints accepted / stored / lost."""
    from observatory.localstack.soak import run
    sys.exit(run(seconds, kill_every, seed, keep))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
