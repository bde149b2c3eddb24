"""Web console: page weight (bytes transferred, compressed) and first paint on loopback, per page, in
Debian's Chromium (tests/browser/console.mjs) against a forecaster over 30 days of the demo webshop in
a fresh chDB folder. The same setup writes the screenshots of docs/screenshots:

    python -m observatory.bench.console screenshots docs/screenshots      (make screenshots)
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

BROWSER_DIR = Path.cwd() / "tests" / "browser"
QUERIES = {"web": "range=30d", "business": "range=30d"}
S = "console"


@contextlib.contextmanager
def demo_console(days: int = 63) -> Iterator[tuple[str, str]]:
    """A forecaster (private listener: read API + console) on 127.0.0.1:<free port> over `days` of the
    demo webshop, in a temporary chDB folder. Yields (base URL, a read key)."""
    import uvicorn
    from pydantic import SecretStr

    from observatory.consumer.decode import to_row
    from observatory.demo.generator import Webshop
    from observatory.forecaster.app import create_app
    from observatory.metrics import new_registry
    from observatory.settings import ApiSettings, ConsoleSettings, ForecasterSettings, StoreSettings
    from observatory.store.client import connect
    from observatory.store.migrate import migrate
    from observatory.store.sink import ClickHouseSink

    folder = tempfile.mkdtemp(prefix="obs-console-")
    key = "obs_r_" + secrets.token_urlsafe(24)
    digest = hashlib.sha256(key.encode()).hexdigest()
    store = StoreSettings(dsn=f"chdb://{folder}/chdb", database="observatory")
    client = connect(store)
    migrate(client, store)
    events = list(Webshop(seed=7).history(days, base_sessions=150, end=datetime.now(UTC)))
    received = datetime.now(UTC).isoformat()
    for e in events:  # as `observatory demo` sends its history: received by ingest now
        e["received_at"] = received
    ClickHouseSink(client, store.database).insert([to_row(e) for e in events])
    client.close()
    app = create_app(
        ForecasterSettings(candidates="seasonal_naive_week,ets", metrics="revenue,orders,dau,signups"),
        store,
        registry=new_registry("forecaster", "console-bench"),
        schedule=False,
        api=ApiSettings(api_keys=f"bench:sha256:{digest}:read"),
        console=ConsoleSettings(session_secret=SecretStr(secrets.token_urlsafe(32))),
    )
    ready, stop = threading.Event(), threading.Event()
    box: dict = {}

    def serve() -> None:
        async def main() -> None:
            config = uvicorn.Config(app.private, host="127.0.0.1", port=0, lifespan="off", log_level="warning")
            server = uvicorn.Server(config)
            async with app.lifespan():
                task = asyncio.create_task(server.serve())
                while not server.started and not task.done():
                    await asyncio.sleep(0.05)
                box["port"] = server.servers[0].sockets[0].getsockname()[1]
                ready.set()
                while not stop.is_set():
                    await asyncio.sleep(0.1)
                server.should_exit = True
                await task

        asyncio.run(main())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(120)
    try:
        yield f"http://127.0.0.1:{box['port']}", key
    finally:
        stop.set()
        thread.join(60)
        shutil.rmtree(folder, ignore_errors=True)


def drive(base: str, key: str, *extra: str) -> dict:
    """Run tests/browser/console.mjs (sign in, every page, a filter, sign out) and return its JSON."""
    node = shutil.which("node")
    if node is None or not (BROWSER_DIR / "node_modules" / "puppeteer-core").is_dir():
        raise SystemExit("needs node and `npm ci` in tests/browser (scripts/bootstrap.sh dev installs both)")
    env = {**os.environ, "CONSOLE_QUERIES": json.dumps(QUERIES)}
    done = subprocess.run(
        [node, str(BROWSER_DIR / "console.mjs"), base, key, "not-a-key", *extra],
        cwd=BROWSER_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"console.mjs failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def screenshots(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    with demo_console() as (base, key):
        drive(base, key, "--screenshots", str(out.resolve()))
    return sorted(out.glob("*.png"))


def run(report) -> None:
    with demo_console() as (base, key):
        seen = drive(base, key)
    pages = seen["pages"]
    weights = {name: p["perf"]["bytes"] / 1024 for name, p in pages.items()}
    paints = {name: p["perf"]["firstPaintMs"] for name, p in pages.items() if p["perf"]["firstPaintMs"] is not None}
    heaviest = max(weights, key=lambda n: weights[n])
    report.add(
        S,
        "console page weight, heaviest page (HTML + JS + CSS + API answers, compressed)",
        weights[heaviest],
        "KB",
        target="<= 300 KB",
        note=f"{heaviest}; " + ", ".join(f"{n} {w:.0f} KB" for n, w in weights.items()) + "; cache disabled",
    )
    report.add(
        S,
        "console first paint on loopback, slowest page",
        max(paints.values()) if paints else float("nan"),
        "ms",
        target="<= 500 ms",
        note="median over pages "
        + (f"{statistics.median(paints.values()):.0f} ms; " if paints else "")
        + ", ".join(f"{n} {v:.0f}" for n, v in paints.items())
        + "; ready (every panel filled): "
        + ", ".join(f"{n} {p['perf']['readyMs']} ms" for n, p in pages.items()),
    )


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "screenshots":
        for path in screenshots(Path(sys.argv[2] if len(sys.argv) > 2 else "docs/screenshots")):
            print(f"wrote {path}")
    else:
        raise SystemExit("usage: python -m observatory.bench.console screenshots [DIR]")
