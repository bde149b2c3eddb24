"""Demo users whose churn is known: a cohort simulated week by week, each user with their own visit
rate, payment trouble and support needs; dissatisfaction (recent tickets, payment failures, refunds)
lowers engagement and raises the weekly churn hazard, and a churned user never comes back. Returns the
events (schema-valid, browser-shaped pageviews via demo/web.py) and the truth: user -> churn time.

This is what lets a test check the churn model against ground truth (AUC, Brier) instead of against
labels derived from the same data.
"""

from __future__ import annotations

import math
import random
import uuid
from datetime import datetime, timedelta

from observatory.demo.web import Web

PLAN_EFFECT = {"free": 1.4, "plus": 0.8, "pro": 0.5}


def _id(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


class ChurnCohort:
    def __init__(self, seed: int = 3, base_hazard: float = 0.003) -> None:
        self.rng = random.Random(seed)
        self.web = Web(seed + 101)
        self.base_hazard = base_hazard

    def generate(
        self, users: int, start: datetime, end: datetime, prefix: str = "c-"
    ) -> tuple[list[dict], dict[str, datetime | None]]:
        events: list[dict] = []
        truth: dict[str, datetime | None] = {}
        for i in range(users):
            user = f"{prefix}{i:06d}"
            truth[user] = self._user(user, start, end, events)
        return events, truth

    def _user(self, user: str, start: datetime, end: datetime, out: list[dict]) -> datetime | None:
        rng = self.rng
        signup = start + timedelta(seconds=rng.uniform(0, 45 * 86400))
        rate = math.exp(rng.gauss(0.5, 0.5))  # visits per week
        troubled = rng.random() < 0.3
        fail_p = 0.35 if troubled else 0.04
        ticket_p = 0.18 if troubled else 0.02
        refund_p = 0.15 if troubled else 0.03
        plan = self.web.plan()
        recent: list[tuple[datetime, float]] = []  # (time, weight) of dissatisfying events
        t = signup
        self._event(out, user, "user_signup", t, "", {"signup_method": "email", "referrer": "organic", "plan": plan})
        week = timedelta(days=7)
        while t < end:
            dissatisfaction = sum(w for at, w in recent if t - at < 8 * week)
            hazard = min(
                0.6, self.base_hazard * PLAN_EFFECT[plan] * math.exp(1.4 * dissatisfaction) / max(0.3, rate) ** 0.3
            )
            if t > signup + week and rng.random() < hazard:
                return t
            visits = _poisson(rng, rate * math.exp(-0.25 * dissatisfaction))
            for _ in range(visits):
                at = t + timedelta(seconds=rng.uniform(0, 7 * 86400))
                if at >= end:
                    continue
                self._visit(out, user, at, fail_p, ticket_p, refund_p, recent)
            t += week
        return None

    def _visit(self, out, user, at, fail_p, ticket_p, refund_p, recent) -> None:
        rng = self.rng
        session = _id(rng)
        ref, utm = self.web.landing()
        out.append(self.web.pageview(user, session, at, "/", ref, utm))
        product = f"p-{rng.randrange(40):03d}"
        price = round(rng.uniform(5, 200), 2)
        at += timedelta(seconds=rng.uniform(5, 60))
        self._event(out, user, "product_viewed", at, session, {"product_id": product, "price": price})
        if rng.random() < 0.3:
            order = "o-" + _id(rng)[:12]
            at += timedelta(seconds=rng.uniform(5, 60))
            if rng.random() < fail_p:
                self._event(
                    out,
                    user,
                    "payment_failed",
                    at,
                    session,
                    {"order_id": order, "payment_method": "card", "error_code": "card_declined", "amount": price},
                )
                recent.append((at, 1.0))
                at += timedelta(seconds=30)
            if rng.random() < 0.8:
                self._event(
                    out,
                    user,
                    "purchase_completed",
                    at,
                    session,
                    {
                        "order_id": order,
                        "total_value": price,
                        "currency": "EUR",
                        "payment_method": "card",
                        "items": [{"product_id": product, "quantity": 1, "price": price}],
                    },
                )
                if rng.random() < refund_p:
                    self._event(
                        out,
                        user,
                        "refund_requested",
                        at + timedelta(hours=1),
                        session,
                        {"order_id": order, "amount": price, "reason": "damaged"},
                    )
                    recent.append((at, 1.2))
        if rng.random() < ticket_p:
            self._event(
                out,
                user,
                "customer_support_ticket",
                at + timedelta(seconds=90),
                session,
                {"ticket_id": _id(rng)[:8], "category": "shipping", "priority": "high"},
            )
            recent.append((at, 1.0))

    def _event(self, out, user, name, at, session, props) -> None:
        out.append(
            {
                "event_id": _id(self.rng),
                "event_name": name,
                "user_id": user,
                "session_id": session,
                "timestamp": at.isoformat().replace("+00:00", "Z"),
                "properties": props,
            }
        )


def _poisson(rng: random.Random, lam: float) -> int:
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1
