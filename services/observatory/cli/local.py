"""`observatory local up|down|status|soak`: the local stack without Docker (see observatory.localstack)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from observatory.cli.common import (
    LOCAL_DIR,
)

app = typer.Typer(help="The local stack without Docker: RabbitMQ + observatory on loopback.", no_args_is_help=True)
local_app = app


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
def local_soak(
    seconds: Annotated[float, typer.Option(help="traffic duration")] = 180.0,
    kill_every: Annotated[float, typer.Option(help="mean seconds between two kill -9")] = 20.0,
    seed: Annotated[int, typer.Option(help="random seed (which component, when)")] = 1,
    keep: Annotated[bool, typer.Option(help="keep the private stack's folder")] = False,
):
    """Mixed traffic against a private supervised stack with random kill -9; prints accepted / stored / lost."""
    from observatory.localstack.soak import run

    sys.exit(run(seconds, kill_every, seed, keep))
