"""A real browser: Debian's Chromium, driven by puppeteer-core (tests/browser/drive.mjs), loads a test
page from one loopback origin using posthog-js and @segment/analytics-next against ingest on another
origin. CORS preflight passes, $pageview, a custom event, $web_vitals and an $exception from a thrown
error arrive in ClickHouse, and the web-vitals histograms on /metrics move."""

from __future__ import annotations

import asyncio
import functools
import json
import subprocess
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlencode

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.conftest import API_KEY, wait_until
from tests.integration.sdk.conftest import rows, serve
from tests.tools import require

BROWSER_DIR = Path(__file__).resolve().parents[2] / "browser"

pytestmark = pytest.mark.slow


def _npm_packages() -> None:
    """The test setup installs the npm packages from the committed lock file when they are missing."""
    if not (BROWSER_DIR / "node_modules" / "puppeteer-core").is_dir():
        subprocess.run([require("npm"), "ci", "--no-audit", "--no-fund"], cwd=BROWSER_DIR, check=True, timeout=600)


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _static_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(BROWSER_DIR)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _histogram_counts(text: str) -> dict[str, float]:
    return {
        s.name: s.value
        for fam in text_string_to_metric_families(text)
        if fam.name.startswith("frontend_web_vitals")
        for s in fam.samples
        if s.name.endswith("_count")
    }


async def test_browser_sdks_send_pageviews_events_web_vitals_and_exceptions(make_pipeline, ch):
    require("chromium")
    node = require("node")
    _npm_packages()
    static = _static_server()
    page_origin = f"http://127.0.0.1:{static.server_address[1]}"
    try:
        async with make_pipeline(cors_origins=page_origin) as p, serve(p.app.public) as ingest:
            assert ingest != page_origin
            url = f"{page_origin}/page.html?" + urlencode({"ingest": ingest, "key": API_KEY})
            driver = await asyncio.create_subprocess_exec(
                node,
                str(BROWSER_DIR / "drive.mjs"),
                url,
                cwd=BROWSER_DIR,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            try:
                first = await asyncio.wait_for(driver.stdout.readline(), 120)
                assert json.loads(first or b'{"stage": "no output"}')["stage"] == "driven", (
                    await driver.stderr.read()
                ).decode()[-3000:]

                def names():
                    return {(r["event_name"], r["properties"].get("$door")) for r in rows(ch, p.db)}

                wanted = {
                    ("$pageview", "posthog"),
                    ("browser_checkout_clicked", "posthog"),
                    ("$web_vitals", "posthog"),
                    ("$exception", "posthog"),
                    ("$pageview", "segment"),
                    ("Browser Buy Clicked", "segment"),
                }
                try:
                    await wait_until("the browser's events in ClickHouse", lambda: wanted <= names(), 90)
                except AssertionError as exc:
                    driver.stdin.write(b"done\n")
                    seen = (await asyncio.wait_for(driver.stdout.readline(), 60)).decode()[-6000:]
                    raise AssertionError(
                        f"{exc}; missing {wanted - names()}; stored {names()}; the browser saw: {seen}"
                    ) from None
                driver.stdin.write(b"done\n")
                await driver.stdin.drain()
                summary = json.loads(await asyncio.wait_for(driver.stdout.readline(), 60))
            finally:
                if driver.returncode is None:
                    driver.stdin.close()
                    await asyncio.wait_for(driver.wait(), 60)
            assert driver.returncode == 0, (await driver.stderr.read()).decode()[-3000:]

            seen = summary["seen"]
            preflights = [s for s in seen if s["method"] == "OPTIONS" and s["url"].startswith(ingest)]
            assert preflights and all(s["status"] == 204 for s in preflights), seen
            to_ingest = [s for s in seen if s["method"] == "POST" and s["url"].startswith(ingest)]
            assert to_ingest and all(s["status"] == 200 for s in to_ingest), to_ingest

            got = rows(ch, p.db)
            pageview = next(r for r in got if r["event_name"] == "$pageview" and r["properties"]["$door"] == "posthog")
            assert pageview["properties"]["$current_url"].startswith(page_origin + "/page.html")
            assert pageview["properties"]["$pathname"] == "/page.html"
            assert pageview["properties"]["$lib"] == "web" and pageview["session_id"]
            vitals = [r for r in got if r["event_name"] == "$web_vitals"]
            assert any(isinstance(r["properties"].get("$web_vitals_FCP_value"), (int, float)) for r in vitals)
            exc = next(r for r in got if r["event_name"] == "$exception")
            assert "TypeError" in str(exc["properties"]["$exception_list"])
            assert "thrown by the test page" in str(exc["properties"]["$exception_list"])

            metrics = (await p.private.get("/metrics")).text
            counts = _histogram_counts(metrics)
            assert counts.get("frontend_web_vitals_fcp_seconds_count", 0) >= 1, counts
            assert 'frontend_exceptions_total{type="TypeError"}' in metrics
    finally:
        static.shutdown()
