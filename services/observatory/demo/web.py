"""The browser side of the demo webshop: each visitor has a user agent (current browsers) and a client
IP from the documentation ranges (mapped to countries by events/enrich.py); each visit gets a landing
`$pageview` with a referrer or UTM tags, a `$pageview` per page, and PostHog-shaped properties
(`$current_url`, `$pathname`, `$referrer`, `$raw_user_agent`, `$ip`, `$session_id`, some visitors' SDK
also sending `$browser`/`$os`/`$device_type`). Bounce visits (one page) and visits without a session
id (sessionized by 30 minutes of inactivity) come from anonymous visitors.

Uses its own random stream, so the webshop's events for a seed stay the same with or without it.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

HOST = "https://shop.example"
USER_AGENTS = (  # (weight, UA, SDK-computed $browser, $os, $device_type)
    (
        30,
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
        "Safari/537.36",
        "Chrome",
        "Windows",
        "Desktop",
    ),
    (
        20,
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.2 Mobile/15E148 Safari/604.1",
        "Mobile Safari",
        "iOS",
        "Mobile",
    ),
    (
        18,
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile "
        "Safari/537.36",
        "Chrome",
        "Android",
        "Mobile",
    ),
    (
        10,
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/18.2 Safari/605.1.15",
        "Safari",
        "Mac OS X",
        "Desktop",
    ),
    (8, "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox", "Linux", "Desktop"),
    (
        6,
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 "
        "Safari/537.36 Edg/131.0.2903.86",
        "Microsoft Edge",
        "Windows",
        "Desktop",
    ),
    (
        5,
        "Mozilla/5.0 (iPad; CPU OS 18_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.2 "
        "Mobile/15E148 Safari/604.1",
        "Mobile Safari",
        "iOS",
        "Tablet",
    ),
    (
        3,
        "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/27.0 Chrome/125.0.0.0 Mobile Safari/537.36",
        "Samsung Internet",
        "Android",
        "Mobile",
    ),
)
# (weight, first host octets or prefix, hosts in the range): see enrich.DOCUMENTATION_RANGES for countries
IP_RANGES = (
    (30, "192.0.2.", 0),
    (12, "192.0.2.", 64),
    (10, "192.0.2.", 128),
    (5, "192.0.2.", 192),
    (20, "198.51.100.", 0),
    (5, "198.51.100.", 128),
    (8, "203.0.113.", 0),
    (5, "203.0.113.", 128),
    (3, "2001:db8::", None),
    (2, "2001:db8:8000::", None),
)
LANDINGS = (  # (weight, referrer, utm) of a visit's first page
    (30, "$direct", None),
    (18, "https://www.google.com/", None),
    (6, "https://www.bing.com/", None),
    (4, "https://duckduckgo.com/", None),
    (7, "https://l.facebook.com/", None),
    (4, "https://t.co/x1", None),
    (3, "https://www.reddit.com/r/shoes", None),
    (8, "https://blog.example.org/best-bags", None),
    (3, "https://news.example.net/deals", None),
    (10, "$direct", {"utm_source": "newsletter", "utm_medium": "email", "utm_campaign": "weekly"}),
    (7, "https://www.google.com/", {"utm_source": "google", "utm_medium": "cpc", "utm_campaign": "brand"}),
)
PLANS = ((70, "free"), (22, "plus"), (8, "pro"))


@dataclass(frozen=True)
class Visitor:
    ua: str
    browser: str
    os: str
    device: str
    ip: str
    sdk_props: bool  # the SDK sends $browser/$os/$device_type (else enrichment parses the UA)


def _pick(rng: random.Random, table):
    return rng.choices(table, [t[0] for t in table])[0]


class Web:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed * 7919 + 1)
        self.visitors: dict[str, Visitor] = {}
        self.anonymous = 0

    def visitor(self, user: str) -> Visitor:
        v = self.visitors.get(user)
        if v is None:
            rng = self.rng
            _, ua, browser, os_, device = _pick(rng, USER_AGENTS)
            _, prefix, base = _pick(rng, IP_RANGES)
            ip = (
                f"{prefix}{base + rng.randrange(60) + 1}" if base is not None else f"{prefix}{rng.randrange(1, 9999):x}"
            )
            v = self.visitors[user] = Visitor(ua, browser, os_, device, ip, rng.random() < 0.5)
        return v

    def plan(self) -> str:
        return _pick(self.rng, PLANS)[1]

    def landing(self) -> tuple[str, dict | None]:
        _, ref, utm = _pick(self.rng, LANDINGS)
        return ref, utm

    def pageview(
        self, user: str, session: str, ts: datetime, path: str, referrer: str, utm: dict | None = None
    ) -> dict:
        v = self.visitor(user)
        query = "?" + "&".join(f"{k}={val}" for k, val in utm.items()) if utm else ""
        props = {
            "$current_url": f"{HOST}{path}{query}",
            "$host": "shop.example",
            "$pathname": path,
            "$referrer": referrer,
            "$raw_user_agent": v.ua,
            "$ip": v.ip,
            "$lib": "web",
        }
        if session:
            props["$session_id"] = session
        if utm:
            props.update(utm)
        if v.sdk_props:
            props.update({"$browser": v.browser, "$os": v.os, "$device_type": v.device})
        return {
            "event_id": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
            "event_name": "$pageview",
            "user_id": user,
            "session_id": session,
            "timestamp": ts.isoformat().replace("+00:00", "Z"),
            "properties": props,
        }

    def decorate(self, events: list[dict]) -> list[dict]:
        """A webshop visit with its pageviews: a landing page, then the page before each product view,
        cart and checkout step (a fraction of a second before the event it leads to)."""
        if not events:
            return events
        user, session = events[0]["user_id"], events[0]["session_id"]
        ref, utm = self.landing()
        first = _ts(events[0]) - timedelta(seconds=self.rng.uniform(1, 20))
        out = [self.pageview(user, session, first, self.rng.choice(("/", "/", "/sale", "/new")), ref, utm)]
        previous = out[0]["properties"]["$current_url"]
        for ev in events:
            path = _PATHS.get(ev["event_name"])
            if path is not None:
                if callable(path):
                    path = path(ev)
                pv = self.pageview(
                    user, session, _ts(ev) - timedelta(milliseconds=self.rng.randint(50, 900)), path, previous
                )
                out.append(pv)
                previous = pv["properties"]["$current_url"]
            out.append(ev)
        return out

    def anonymous_visit(self, start: datetime) -> list[dict]:
        """A visitor without an account: usually one page (a bounce); every other visit has no session
        id (the queries then split sessions at 30 minutes of inactivity), some come back within minutes."""
        rng = self.rng
        if self.anonymous and rng.random() < 0.3:
            user = f"v-{rng.randrange(self.anonymous):06d}"
        else:
            user = f"v-{self.anonymous:06d}"
            self.anonymous += 1
        session = "" if rng.random() < 0.5 else str(uuid.UUID(int=rng.getrandbits(128), version=4))
        ref, utm = self.landing()
        pages = 1 if rng.random() < 0.7 else rng.randint(2, 3)
        t, out, previous = start, [], ref
        for i in range(pages):
            path = rng.choice(("/", "/sale", "/new", "/about", "/products/p-001", "/products/p-002"))
            pv = self.pageview(user, session, t, path, previous, utm if i == 0 else None)
            out.append(pv)
            previous = pv["properties"]["$current_url"]
            t += timedelta(seconds=rng.uniform(20, 1200))
        return out


def _ts(ev: dict) -> datetime:
    return datetime.fromisoformat(ev["timestamp"].replace("Z", "+00:00"))


_PATHS: dict[str, str | Callable[[dict], str]] = {
    "product_viewed": lambda ev: f"/products/{ev['properties']['product_id']}",
    "checkout_started": "/checkout",
    "purchase_completed": "/checkout/complete",
    "user_signup": "/signup",
}


def to_posthog(ev: dict) -> dict:
    """The same event as PostHog's capture API takes it (for the PostHog-compatible door)."""
    props = dict(ev.get("properties") or {})
    if ev.get("session_id"):
        props["$session_id"] = ev["session_id"]
    return {
        "event": ev["event_name"],
        "distinct_id": ev["user_id"],
        "uuid": ev["event_id"],
        "timestamp": ev["timestamp"],
        "properties": props,
    }
