"""`observatory`: run the services, manage the store, send and generate events, run the local stack.

One module per command group: run (services), forecast (backtests, reports), store (migrate, query),
events (send, demo), ops (keygen, topology, setup, bench), local (the local stack), dashboards (the
generated Grafana and Kibana files); common holds what they share. The services' own assembly lives
in their app.py (and observatory.all_in_one).
"""

from __future__ import annotations

import typer

from observatory.cli import dashboards, events, forecast, local, ops, run, store

app = typer.Typer(
    help="Observatory: event ingest, ClickHouse consumer, forecaster and the local stack.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(run.app, name="run")
app.add_typer(forecast.forecast_app, name="forecast")
app.add_typer(local.app, name="local")
app.add_typer(dashboards.app, name="dashboards")
for group in (forecast.app, store.app, events.app, ops.app):
    app.add_typer(group)  # their commands are top-level: `observatory query`, `observatory send`, ...


def main() -> None:
    app()
