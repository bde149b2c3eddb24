"""The console's server-rendered HTML: the sign-in page and the shell of each page (navigation, the
range and filter form, empty panels the ES module fills from the read API). Everything is escaped;
no inline script or style (the Content-Security-Policy forbids both)."""

from __future__ import annotations

from datetime import date
from html import escape

PAGES = {"web": "Web analytics", "business": "Business", "forecasts": "Forecasts", "health": "Health"}
RANGES = {"today": "Today", "7d": "Last 7 days", "30d": "Last 30 days", "90d": "Last 90 days", "custom": "Custom"}
WEB_FILTERS = {
    "page": "Page path",
    "source": "Source",
    "referrer": "Referrer host",
    "country": "Country",
    "device": "Device",
    "browser": "Browser",
    "os": "OS",
    "site": "Site",
}


def _head(title: str, static: dict[str, str]) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="color-scheme" content="light dark">'
        f"<title>{escape(title)} · Observatory</title>"
        f'<link rel="stylesheet" href="{static["app.css"]}">'
    )


def sign_in(static: dict[str, str], csrf: str, message: str = "", next_path: str = "") -> str:
    error = f'<p class="error" role="alert" id="signin-error">{escape(message)}</p>' if message else ""
    described = ' aria-describedby="signin-error" aria-invalid="true"' if message else ""
    return (
        _head("Sign in", static) + '</head><body class="signin"><main class="signin-box">'
        "<h1>Observatory console</h1>"
        '<form method="post" action="/console/session" autocomplete="off">'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
        f'<input type="hidden" name="next" value="{escape(next_path)}">'
        '<label for="key">Read or admin API key</label>'
        f'<input id="key" name="key" type="password" required autofocus spellcheck="false"{described}>'
        f"{error}"
        '<button type="submit">Sign in</button>'
        '<p class="hint">A key from <code>OBS_API_KEYS</code> (<code>observatory keygen --read NAME</code>; '
        "the local stack keeps one in <code>.local/read-key</code>). It is sent once, never stored in the browser.</p>"
        "</form></main></body></html>"
    )


def _range_controls(query: dict[str, str]) -> str:
    chosen = query.get("range", "30d")
    options = "".join(
        f'<option value="{k}"{" selected" if k == chosen else ""}>{escape(v)}</option>' for k, v in RANGES.items()
    )
    return (
        '<div class="field"><label for="range">Date range</label>'
        f'<select id="range" name="range">{options}</select></div>'
        '<div class="field custom"><label for="from">From</label>'
        f'<input id="from" name="from" type="date" value="{escape(query.get("from", ""))}"></div>'
        '<div class="field custom"><label for="to">To (inclusive)</label>'
        f'<input id="to" name="to" type="date" value="{escape(query.get("to", ""))}"></div>'
    )


def _controls(page: str, query: dict[str, str]) -> str:
    if page not in ("web", "business"):
        return ""
    fields = _range_controls(query)
    if page == "web":
        for name, label in WEB_FILTERS.items():
            fields += (
                f'<div class="field"><label for="f-{name}">{escape(label)}</label>'
                f'<input id="f-{name}" name="{name}" value="{escape(query.get(name, ""))}" '
                f'placeholder="any"></div>'
            )
    else:
        fields += (
            '<div class="field wide"><label for="steps">Funnel steps (event names, comma-separated)</label>'
            f'<input id="steps" name="steps" value="{escape(query.get("steps", ""))}" '
            'placeholder="user_signup,product_viewed,add_to_cart,checkout_started,purchase_completed"></div>'
        )
    return (
        f'<form class="controls" method="get" action="/console/{page}" aria-label="Range and filters">'
        f'{fields}<div class="field"><button type="submit">Apply</button></div></form>'
    )


def shell(page: str, static: dict[str, str], csrf: str, today: date, query: dict[str, str], who: str) -> str:
    current = ' aria-current="page"'
    nav = "".join(f'<a href="/console/{p}"{current if p == page else ""}>{escape(t)}</a>' for p, t in PAGES.items())
    return (
        _head(PAGES[page], static) + f'<script type="module" src="{static["app.js"]}"></script></head>'
        f'<body data-page="{page}" data-today="{today.isoformat()}">'
        '<a class="skip" href="#main">Skip to content</a>'
        '<header class="top"><span class="brand">Observatory</span>'
        f'<nav aria-label="Console pages">{nav}</nav>'
        '<form method="post" action="/console/signout" class="signout">'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
        f'<span class="who">{escape(who)}</span><button type="submit">Sign out</button></form></header>'
        f'<main id="main"><h1>{escape(PAGES[page])}</h1>{_controls(page, query)}'
        '<p class="status" id="status" role="status" aria-live="polite">Loading…</p>'
        '<div id="panels" class="panels"></div></main></body></html>'
    )
