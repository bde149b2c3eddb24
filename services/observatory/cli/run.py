"""`observatory run ingest|consumer|forecaster|all-in-one`: a service in the foreground, both listeners."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from observatory.cli.common import (
    boot,
    env_settings,
)

app = typer.Typer(
    help="Run a service in the foreground (settings from OBS_* environment variables).", no_args_is_help=True
)
run_app = app


def _serve(build, public: tuple[str, int], private: tuple[str, int], workers: int = 1) -> None:
    """Both listeners of a service (observatory.listeners): `build` is a Listeners, or for
    workers > 1 the `module:factory` path each worker process imports."""
    from observatory.listeners import Bind, serve

    serve(build, Bind(*public), Bind(*private), workers=workers, access_log=_access_log())


def _access_log() -> bool:
    return os.environ.get("OBS_ACCESS_LOG", "true").lower() not in ("0", "false", "no")


def ingest_app_from_env():
    """Listeners factory, also used by the worker processes of `run ingest --workers N`."""
    from observatory.ingest.app import create_app
    from observatory.settings import ApiSettings, BrokerSettings, IngestSettings

    boot("ingest")
    return create_app(env_settings(IngestSettings), env_settings(BrokerSettings), api=env_settings(ApiSettings))


def ingest_public_app_from_env():
    """ASGI factory for other servers (the Granian comparison of `make bench`): the public listener
    only, with the shared lifespan."""
    return ingest_app_from_env().public_asgi()


@run_app.command("ingest")
def run_ingest(workers: Annotated[int | None, typer.Option(help="worker processes (default: settings)")] = None):
    """HTTP ingest API: validate events, publish to RabbitMQ, 202 once confirmed (public listener);
    /metrics and docs on the private listener (OBS_INGEST_PRIVATE_HOST/PORT)."""
    from observatory.settings import IngestSettings

    boot("ingest")
    s = env_settings(IngestSettings)
    n = workers or s.workers
    build = "observatory.cli.run:ingest_app_from_env" if n > 1 else ingest_app_from_env()
    _serve(build, (s.host, s.port), (s.private_host, s.private_port), workers=n)


@run_app.command("consumer")
def run_consumer():
    """RabbitMQ → ClickHouse batches; health on OBS_CONSUMER_PORT, metrics on OBS_CONSUMER_METRICS_PORT."""
    from observatory.consumer.app import create_app
    from observatory.settings import BrokerSettings, ConsumerSettings, StoreSettings

    boot("consumer")
    c = env_settings(ConsumerSettings)
    _serve(
        create_app(env_settings(BrokerSettings), c, env_settings(StoreSettings)),
        (c.host, c.port),
        (c.metrics_host, c.metrics_port),
    )


def all_in_one_app():
    """Ingest + consumer + forecaster (routes and scheduler) in one process over one store (settings from
    the environment; the assembly is observatory.all_in_one)."""
    from observatory.all_in_one import create_app_from

    return create_app_from(env_settings)


@run_app.command("forecaster")
def run_forecaster():
    """Forecasts, analytics API, anomaly gauges and scheduled reports (OBS_FORECASTER_*, OBS_REPORT_*);
    the API is on the private listener (OBS_FORECASTER_PRIVATE_HOST/PORT) and needs a read key."""
    from observatory.forecaster.app import create_app
    from observatory.settings import ApiSettings, ForecasterSettings, ReportSettings, StoreSettings

    boot("forecaster")
    f = env_settings(ForecasterSettings)
    _serve(
        create_app(f, env_settings(StoreSettings), env_settings(ReportSettings), api=env_settings(ApiSettings)),
        (f.host, f.port),
        (f.private_host, f.private_port),
    )


@run_app.command("all-in-one")
def run_all_in_one():
    """Ingest, consumer and forecaster in ONE process (the embedded ClickHouse allows one process per folder)."""
    from observatory.settings import IngestSettings

    boot("all-in-one")
    s = env_settings(IngestSettings)
    _serve(all_in_one_app(), (s.host, s.port), (s.private_host, s.private_port))
