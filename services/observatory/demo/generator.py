"""Realistic webshop sessions: signup → views → cart → checkout → purchase (or payment failure),
support tickets and refunds, with weekly seasonality and slow growth. Deterministic for a seed.
With `web=True` (default) each visit is browser-shaped too (demo/web.py: pageviews, referrers, UTM
tags, user agents, client IPs) and anonymous visitors add bounce visits.

Pure: yields event dicts in the ingest API's format; nothing is sent from here.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from observatory.demo.web import Web

CATEGORIES = ("shoes", "shirts", "bags", "watches", "books", "electronics")
PAYMENT_METHODS = ("card", "paypal", "apple_pay", "bank_transfer")
# Weekly shape: Monday .. Sunday multipliers of the base session rate.
WEEKLY = (1.0, 0.95, 0.95, 1.0, 1.15, 1.35, 1.25)


@dataclass(frozen=True)
class Product:
    product_id: str
    category: str
    price: float


def catalogue(rng: random.Random, n: int = 40) -> list[Product]:
    return [Product(f"p-{i:03d}", CATEGORIES[i % len(CATEGORIES)], round(rng.uniform(5, 250), 2)) for i in range(n)]


def sessions_per_day(day: datetime, base: float, growth_per_day: float, start: datetime) -> float:
    age = (day - start).days
    return base * WEEKLY[day.weekday()] * (1 + growth_per_day) ** age


def _id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class Webshop:
    def __init__(
        self,
        seed: int = 7,
        n_products: int = 40,
        returning_ratio: float = 0.6,
        web: bool = True,
        anonymous_ratio: float = 0.35,
    ) -> None:
        self.rng = random.Random(seed)
        self.web = Web(seed) if web else None
        self.anonymous_ratio = anonymous_ratio if web else 0.0
        self.products = catalogue(self.rng, n_products)
        # popularity: a few products get most of the views
        self.weights = [1 / (i + 1) ** 0.8 for i in range(n_products)]
        self.users: list[str] = []
        self.returning_ratio = returning_ratio
        self._orders = 0

    def session(self, start: datetime, step_s: tuple[float, float] = (2, 90)) -> list[dict]:
        """One visit: events `step_s` seconds apart, starting after `start`."""
        rng = self.rng
        t = start
        events: list[dict] = []
        new_user = not self.users or rng.random() >= self.returning_ratio
        if new_user:
            user = f"u-{len(self.users):06d}"
            self.users.append(user)
        else:
            user = rng.choice(self.users)
        session = _id(rng)

        def emit(name: str, props: dict) -> None:
            nonlocal t
            t += timedelta(seconds=rng.uniform(*step_s))
            events.append(
                {
                    "event_id": _id(rng),
                    "event_name": name,
                    "user_id": user,
                    "session_id": session,
                    "timestamp": t.isoformat().replace("+00:00", "Z"),
                    "properties": props,
                }
            )

        if new_user:
            props = {
                "signup_method": rng.choice(("email", "google", "apple")),
                "referrer": rng.choice(("ads", "organic", "newsletter", "social")),
            }
            if self.web:
                props["plan"] = self.web.plan()
            emit("user_signup", props)
        cart: list[tuple[Product, int]] = []
        for _ in range(rng.randint(1, 6)):
            p = rng.choices(self.products, self.weights)[0]
            emit("product_viewed", {"product_id": p.product_id, "price": p.price, "category": p.category})
            if rng.random() < 0.25:
                qty = rng.randint(1, 3)
                cart.append((p, qty))
                emit("add_to_cart", {"product_id": p.product_id, "price": p.price, "quantity": qty})
        if cart and rng.random() < 0.6:
            value = round(sum(p.price * q for p, q in cart), 2)
            emit("checkout_started", {"cart_value": value, "items_count": sum(q for _, q in cart)})
            method = rng.choice(PAYMENT_METHODS)
            self._orders += 1
            order = f"o-{self._orders:07d}"
            if rng.random() < 0.08:
                emit(
                    "payment_failed",
                    {
                        "order_id": order,
                        "payment_method": method,
                        "error_code": rng.choice(("card_declined", "insufficient_funds", "timeout")),
                        "amount": value,
                    },
                )
            if rng.random() < 0.8:
                emit(
                    "purchase_completed",
                    {
                        "order_id": order,
                        "total_value": value,
                        "currency": "EUR",
                        "payment_method": method,
                        "items": [{"product_id": p.product_id, "quantity": q, "price": p.price} for p, q in cart],
                    },
                )
                if rng.random() < 0.04:
                    emit(
                        "refund_requested",
                        {"order_id": order, "amount": value, "reason": rng.choice(("damaged", "wrong size", "late"))},
                    )
        if rng.random() < 0.02:
            emit(
                "customer_support_ticket",
                {
                    "ticket_id": _id(rng)[:8],
                    "category": rng.choice(("shipping", "payment", "product", "account")),
                    "priority": rng.choice(("low", "normal", "high", "urgent")),
                },
            )
        return self.web.decorate(events) if self.web else events

    def history(
        self, days: int, base_sessions: float = 200, growth_per_day: float = 0.003, end: datetime | None = None
    ) -> Iterator[dict]:
        """Sessions for `days` whole days ending at `end` (default: now), day by day, in time order
        within each session."""
        end = end or datetime.now(UTC)
        start_day = (end - timedelta(days=days)).replace(hour=0, minute=0, second=0, microsecond=0)
        for d in range(days + 1):
            day = start_day + timedelta(days=d)
            n = int(round(sessions_per_day(day, base_sessions, growth_per_day, start_day)))
            for _ in range(n):
                # daily shape: more traffic in the evening
                hour = min(23, max(0, int(self.rng.gauss(15, 4.5))))
                ts = day + timedelta(hours=hour, seconds=self.rng.uniform(0, 3599))
                if ts > end - timedelta(minutes=30):
                    continue
                yield from self.session(ts)
            if self.web:
                yield from self._anonymous(day, n, end)

    def _anonymous(self, day: datetime, sessions: int, end: datetime) -> Iterator[dict]:
        web = self.web
        assert web is not None  # called only with web traffic on
        rng = web.rng
        for _ in range(int(round(sessions * self.anonymous_ratio))):
            ts = day + timedelta(seconds=rng.uniform(0, 86399))
            if ts <= end - timedelta(hours=1):
                yield from web.anonymous_visit(ts)

    def live(self, now: datetime) -> list[dict]:
        """One session that just happened: events 1-4 s apart, the last one before `now`."""
        events = self.session(now - timedelta(seconds=60), step_s=(1, 4))
        if self.web and self.web.rng.random() < self.anonymous_ratio:
            events += self.web.anonymous_visit(now - timedelta(seconds=5))[:1]
        return events


def expected_sessions(days: int, base: float, growth: float) -> float:
    """About how many sessions `history` produces (for progress bars)."""
    return sum(base * WEEKLY[d % 7] * (1 + growth) ** d for d in range(days + 1))
