"""The web console in a real browser: Debian's Chromium driven by puppeteer-core (tests/browser/console.mjs)
against the forecaster's private listener over 42 days of the demo webshop (pageviews included).
Sign-in (wrong key, right key), the cookie's flags, every page with the demo's data, the figures on
the page against the read API's answers for the same range, a filter reaching every web panel,
sign-out, and the old cookie refused afterwards."""

from __future__ import annotations

import asyncio
import json
import os
from datetime import timedelta

import httpx
import pytest

from tests.integration.conftest import API_KEY, READ, READ_KEY
from tests.integration.forecaster.conftest import NOW, make_forecaster, shop  # noqa: F401 - fixtures
from tests.integration.sdk.conftest import serve
from tests.integration.sdk.test_browser import BROWSER_DIR, _npm_packages
from tests.tools import require

pytestmark = pytest.mark.slow
START, END = (
    (NOW.date() + timedelta(days=1) - timedelta(days=30)).isoformat(),
    (NOW.date() + timedelta(days=1)).isoformat(),
)
FAST = {"candidates": "seasonal_naive_week,seasonal_naive_day", "metrics": "revenue,orders", "fit_waiting": 16}


async def drive(base: str, *extra: str, queries: dict | None = None) -> dict:
    node = require("node")
    env = {
        **os.environ,
        "CONSOLE_QUERIES": json.dumps(queries or {"web": "range=30d", "business": "range=30d"}),
        "CONSOLE_CUSTOM": "from=2026-02-20&to=2026-02-26",
    }
    proc = await asyncio.create_subprocess_exec(
        node,
        str(BROWSER_DIR / "console.mjs"),
        base,
        READ_KEY,
        API_KEY,
        *extra,
        cwd=BROWSER_DIR,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 600)
    assert proc.returncode == 0, err.decode()[-3000:]
    return json.loads(out.decode().strip().splitlines()[-1])


def close(a, b) -> bool:
    return abs(float(a) - float(b)) <= 1e-9 * max(1.0, abs(float(b)))


async def test_console_signs_in_shows_every_page_and_signs_out(shop, make_forecaster):  # noqa: F811
    require("chromium")
    _npm_packages()
    store, _ = shop
    async with make_forecaster(store, **FAST) as (app, http), serve(app.private) as base:
        seen = await drive(base)
        api = {
            "kpi": (
                await http.get("/v1/analytics/kpi_summary", params={"start": START, "end": END}, headers=READ)
            ).json(),
            "products": (
                await http.get(
                    "/v1/analytics/top_products_by_revenue", params={"start": START, "end": END, "limit": 10}
                )
            ).json(),
            "funnel": (await http.get("/v1/analytics/funnel", params={"start": START, "end": END})).json(),
            "retention": (
                await http.get("/v1/analytics/retention_cohorts", params={"start": START, "end": END})
            ).json(),
            "web": await http.get(
                "/v1/web/overview", params={"start": START, "end": END, "granularity": "day", "limit": 10}
            ),
            "web_custom": await http.get(
                "/v1/web/overview",
                params={"start": "2026-02-20", "end": "2026-02-27", "granularity": "day", "limit": 10},
            ),
            "web_mobile": await http.get(
                "/v1/web/overview",
                params={"start": START, "end": END, "granularity": "day", "limit": 10, "device": "mobile"},
            ),
        }

    # no session: the sign-in page (401), wrong key: a clear message, right key: the page asked for
    assert seen["noSession"]["status"] == 401 and seen["noSession"]["signIn"]
    assert seen["wrongKey"]["signIn"] and "ingest (write-only) key" in seen["wrongKey"]["error"]
    assert not seen["signedIn"]["signIn"] and seen["signedIn"]["path"] == "/console/web"
    cookie = next(c for c in seen["cookies"] if c["name"] == "obs_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/" and cookie["expires"] > 0
    assert READ_KEY not in json.dumps(seen)  # the key is in no URL, cookie or page
    assert seen["consoleErrors"] == [], seen["consoleErrors"]

    # business: the figures are the read API's for the same 30 days
    biz = seen["pages"]["business"]
    k = api["kpi"]["rows"][0]
    assert k["orders"] > 0
    for name in ("revenue", "orders", "average_order_value", "purchase_conversion"):
        assert close(biz["figures"][f"biz.{name}"], k[name]), name
    assert [r["product_id"] for r in biz["tables"]["top_products"]] == [
        r["product_id"] for r in api["products"]["rows"]
    ]
    assert [float(r["revenue"]) for r in biz["tables"]["top_products"]] == [
        r["revenue"] for r in api["products"]["rows"]
    ]
    assert [int(biz["figures"][f"funnel.{r['step']}"]) for r in api["funnel"]["rows"]] == [
        r["users"] for r in api["funnel"]["rows"]
    ]
    sizes = {r["cohort_week"]: r["cohort_size"] for r in api["retention"]["rows"]}
    assert [int(r["cohort_size"]) for r in biz["tables"]["retention"]] == [sizes[w] for w in sorted(sizes)]
    assert biz["panels"]["revenue"]["charts"] == 1
    assert biz["panels"]["churn"]["empty"]  # no churn scoring ran: said in words

    # forecasts: a chart with a band per scheduled metric, the serving model named
    fc = seen["pages"]["forecasts"]
    for metric in ("revenue", "orders"):
        assert fc["panels"][f"fc-{metric}"]["charts"] == 1, fc["panels"][f"fc-{metric}"]
        # the candidates FAST allows, or a fallback the selection rule always keeps (the baselines, their median)
        assert fc["figures"][f"fc.{metric}.model"] in (
            "seasonal_naive_week",
            "seasonal_naive_day",
            "ets",
            "baseline_median",
        )

    # health: a standalone forecaster has no ingest: said in words; the store's figures are there
    health = seen["pages"]["health"]
    assert "ingest" in (health["panels"]["ingest"]["empty"] or "").lower(), health["panels"]["ingest"]
    assert health["panels"]["alerts"]["empty"]  # no Alertmanager configured: said in words
    assert "health.store.rows_inserted_last_hour" in health["figures"]  # the store's own figures are shown

    # accessible: labelled controls, charts with text, the keyboard reaches every control in order
    for name, p in seen["pages"].items():
        assert p["unlabelled"] == [] and p["chartsWithoutText"] == 0, name
    tabs = seen["tabOrder"]
    assert tabs[0] == "Skip to content" and tabs[1:5] == ["Web analytics", "Business", "Forecasts", "Health"]
    assert tabs[5] == "Sign out", tabs
    assert tabs.index("range") < tabs.index("f-page") < tabs.index("f-site") < tabs.index("Apply"), tabs
    assert "from" not in tabs  # the custom dates are hidden (and skipped) unless the range is custom

    # every panel of every page shows data or says in words why not (never a blank or a stack trace)
    for name, p in seen["pages"].items():
        for panel_id, panel in p["panels"].items():
            assert "Loading" not in panel["text"], (name, panel_id)

    # sign-out: back on the sign-in page, the API refuses, and replaying the old cookie does not work
    assert seen["signedOut"]["signIn"] and seen["afterSignOutApi"] == 401
    assert seen["replay"]["signIn"] and seen["replay"]["status"] == 401 and seen["replayApi"] == 401

    # web: totals and lists equal GET /v1/web/overview; a filter changes every panel
    if api["web"].status_code == 404:
        pytest.skip("GET /v1/web/overview is not on this branch yet (readapi)")
    web, overview = seen["pages"]["web"], api["web"].json()
    for name in ("visitors", "pageviews", "sessions", "bounce_rate", "avg_session_duration_s"):
        assert close(web["figures"][f"web.{name}"], overview["totals"][name]), name
    assert [r["value"] for r in web["tables"]["pages"]] == [r["value"] for r in overview["pages"]]
    custom = api["web_custom"].json()["totals"]  # range=custom&from=2026-02-20&to=2026-02-26: 7 days, `to` inclusive
    assert 0 < custom["visitors"] < overview["totals"]["visitors"]
    assert close(seen["custom"]["figures"]["web.visitors"], custom["visitors"])
    assert close(seen["custom"]["figures"]["web.pageviews"], custom["pageviews"])
    mobile, filtered = api["web_mobile"].json(), seen["filtered"]
    assert close(filtered["figures"]["web.visitors"], mobile["totals"]["visitors"])
    assert mobile["totals"]["visitors"] < overview["totals"]["visitors"]
    assert filtered["tables"]["devices"] == [
        {
            "value": "mobile",
            "sessions": str(mobile["devices"][0]["sessions"]),
            "visitors": str(mobile["devices"][0]["visitors"]),
        }
    ]
    for key in ("pages", "entry_pages", "exit_pages", "sources", "browsers", "countries"):
        assert filtered["tables"].get(key) != web["tables"].get(key), key
    assert seen["formKeepsFilter"] == "range=30d&country=DE&device=mobile"
    assert "live.visitors" in web["figures"]


async def test_sign_in_refuses_cross_site_forms_and_the_cookie_reads_only(shop, make_forecaster, caplog):  # noqa: F811
    """Without a browser: the CSRF token and Origin checks, the cookie is no key for a POST, the key
    is in no log line."""
    store, _ = shop
    caplog.set_level("DEBUG")
    async with make_forecaster(store, **FAST) as (app, http):
        http.headers.pop("Authorization")
        page = await http.get("/console/")
        assert page.status_code == 200 and page.headers["content-security-policy"].startswith("default-src 'none'")
        token = http.cookies["obs_console_csrf"]
        form = {"Content-Type": "application/x-www-form-urlencoded", "Origin": "http://forecaster"}
        body = {"csrf": token, "key": READ_KEY}
        evil = await http.post("/console/session", data=body, headers={**form, "Origin": "http://evil.example"})
        assert evil.status_code == 403 and "obs_console" not in evil.cookies
        stale = await http.post("/console/session", data={**body, "csrf": "other"}, headers=form)
        assert stale.status_code == 403 and "obs_console" not in stale.cookies
        ok = await http.post("/console/session", data=body, headers=form)
        assert ok.status_code == 303 and ok.headers["location"] == "/console/web"
        set_cookie = ok.headers["set-cookie"].lower()
        assert "httponly" in set_cookie and "samesite=strict" in set_cookie and "max-age=28800" in set_cookie
        assert (await http.get("/v1/analytics/kpi_summary")).status_code == 200  # the cookie reads
        sql = await http.post("/v1/query", json={"sql": "SELECT 1"})
        assert sql.status_code == 401  # but is no key for a POST
        assert (await http.post("/console/signout", data={"csrf": "forged"}, headers=form)).status_code == 403
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app.private), base_url="http://forecaster"
        ) as other:
            csrf = (await other.get("/console/")).cookies["obs_console_csrf"]
            wrong = [
                await other.post("/console/session", data={"csrf": csrf, "key": "wrong"}, headers=form)
                for _ in range(11)
            ]
        assert [r.status_code for r in wrong] == [401] * 10 + [429] and wrong[-1].headers["retry-after"]
        assert "Too many wrong keys" in wrong[-1].text
        assert (await http.get("/v1/analytics/kpi_summary")).status_code == 200  # a forged sign-out did nothing
    assert not [r for r in caplog.records if READ_KEY in r.getMessage() or READ_KEY in str(r.__dict__)]
