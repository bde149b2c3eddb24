"""`observatory send` (one event) and `observatory demo` (webshop traffic)."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from observatory.cli.common import (
    api_key_or_exit,
    fail,
)

app = typer.Typer()


@app.command()
def send(
    event_name: str,
    user_id: Annotated[str, typer.Option("--user", help="user id")] = "cli-user",
    prop: Annotated[
        list[str] | None, typer.Option("--prop", "-p", help="property key=value (JSON values allowed)")
    ] = None,
    url: Annotated[str, typer.Option(envvar="OBS_INGEST_URL")] = "http://127.0.0.1:8080",
    api_key: Annotated[str | None, typer.Option(help="default: OBS_API_KEY or .local/api-key")] = None,
):
    """Send one event, e.g. `observatory send purchase_completed -p order_id=o1 -p total_value=9.5 ...`."""
    import httpx

    props = {}
    for item in prop or []:
        key, sep, raw = item.partition("=")
        if not sep:
            fail(f"--prop {item!r} is not key=value")
        try:
            props[key] = json.loads(raw)
        except json.JSONDecodeError:
            props[key] = raw
    body = {"event_name": event_name, "user_id": user_id, "properties": props}
    try:
        r = httpx.post(
            f"{url}/v1/events", json=body, headers={"Authorization": f"Bearer {api_key_or_exit(api_key)}"}, timeout=10
        )
    except httpx.HTTPError as exc:
        fail(f"cannot reach ingest at {url}: {exc}")
    typer.echo(f"{r.status_code} {r.text}")
    raise typer.Exit(0 if r.status_code == 202 else 1)


@app.command()
def demo(
    rate: Annotated[float, typer.Option(help="live events per second (0: none)")] = 20.0,
    days: Annotated[int, typer.Option(help="first backfill this many days of history")] = 0,
    duration: Annotated[float, typer.Option(help="seconds of live traffic (0: until Ctrl-C)")] = 0.0,
    sessions_per_day: Annotated[float, typer.Option(help="history volume")] = 200.0,
    seed: int = 7,
    url: Annotated[str, typer.Option(envvar="OBS_INGEST_URL")] = "http://127.0.0.1:8080",
    api_key: Annotated[str | None, typer.Option()] = None,
    door: Annotated[
        str, typer.Option(help="posthog (/batch/, PostHog-shaped events) or native (/v1/events)")
    ] = "posthog",
    churn_users: Annotated[int, typer.Option(help="users with known churn in a backfill of >= 60 days")] = 300,
):
    """Webshop traffic generator: browser sessions (pageviews, referrers, UTM, user agents, client IPs from
    documentation ranges) and a purchase funnel with weekly seasonality."""
    from observatory.demo.sender import run_demo

    sys.exit(
        run_demo(
            url,
            api_key_or_exit(api_key),
            rate=rate,
            days=days,
            duration=duration,
            sessions_per_day=sessions_per_day,
            seed=seed,
            door=door,
            churn_users=churn_users,
        )
    )
