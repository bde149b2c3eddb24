"""Operations: `keygen`, `topology` (RabbitMQ definitions), `setup` (provisioning of the Docker stack), `bench`."""

from __future__ import annotations

import json
import secrets
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from observatory.cli.common import (
    boot,
    env_settings,
    fail,
)

app = typer.Typer()


@app.command()
def keygen(
    name: Annotated[str, typer.Argument(help="who the key is for, e.g. web, backend, analyst")],
    read: Annotated[bool, typer.Option("--read", help="a read key (OBS_API_KEYS): analytics, forecasts")] = False,
    admin: Annotated[bool, typer.Option("--admin", help="a read key that may also trigger reports")] = False,
):
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
def topology(out: Annotated[Path | None, typer.Option(help="write here instead of stdout")] = None):
    """Print the RabbitMQ topology as a definitions file (for the compose broker)."""
    from observatory.broker.topology import definitions
    from observatory.settings import BrokerSettings

    doc = json.dumps(definitions(env_settings(BrokerSettings)), indent=2) + "\n"
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

    boot("setup")
    try:
        run(target.value, env_settings(SetupSettings))
    except SetupError as exc:
        fail(str(exc))
    typer.echo(f"setup {target.value}: done")


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True}, add_help_option=False)
def bench(ctx: typer.Context):
    """Benchmarks with same-run ceilings (`observatory bench --help` for sections)."""
    from observatory.bench.runner import main as bench_main

    sys.exit(bench_main(ctx.args))
