"""POST generated webshop traffic to ingest: a backfill with a progress bar, then live traffic.

Two doors: `posthog` (default: POST /batch/ with PostHog's body, the events shaped by
demo/web.to_posthog, as a PostHog SDK sends them) and `native` (POST /v1/events).
The backfill also sends a cohort of users whose churn is known (demo/churn.py) when it spans 60 days
or more, so the monthly churn model has something to learn from.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from observatory.demo.generator import Webshop, expected_sessions
from observatory.demo.web import to_posthog

BATCH = 500


class Sender:
    def __init__(self, url: str, api_key: str, door: str = "native") -> None:
        if door not in ("native", "posthog"):
            raise ValueError(f"door {door!r} is not native or posthog")
        self.client = httpx.Client(
            base_url=url, timeout=30, headers={"Authorization": f"Bearer {api_key}", "User-Agent": "observatory-demo"}
        )
        self.api_key, self.door = api_key, door
        self.sent = self.rejected = 0

    def post(self, events: list[dict]) -> None:
        """POST a batch; retries on 429/503 as the server's Retry-After says (bounded)."""
        for _attempt in range(30):
            if self.door == "posthog":
                r = self.client.post(
                    "/batch/", json={"api_key": self.api_key, "batch": [to_posthog(e) for e in events]}
                )
            else:
                r = self.client.post("/v1/events", json=events)
            if r.status_code in (429, 503):
                time.sleep(min(float(r.headers.get("retry-after", "1")), 5))
                continue
            if self.door == "posthog" and r.status_code == 200:
                self.sent += len(events)
                return
            if r.status_code not in (202, 400):
                raise RuntimeError(f"ingest answered {r.status_code}: {r.text[:300]}")
            body = r.json()
            self.sent += body.get("accepted", 0)
            self.rejected += len(body.get("rejected", []))
            return
        raise RuntimeError("ingest kept refusing (429/503) for 30 attempts")


def run_demo(
    url: str,
    api_key: str,
    *,
    rate: float,
    days: int,
    duration: float,
    sessions_per_day: float,
    seed: int,
    door: str = "posthog",
    churn_users: int = 300,
) -> int:
    shop = Webshop(seed=seed)
    sender = Sender(url, api_key, door)
    try:
        sender.client.get("/health/live").raise_for_status()
    except httpx.HTTPError as exc:
        print(f"error: ingest not reachable at {url}: {exc}")
        return 1
    if days > 0:
        total = int(expected_sessions(days, sessions_per_day, 0.003) * 12.5)
        with Progress(
            TextColumn("backfill {task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()
        ) as progress:
            task = progress.add_task(f"{days} days", total=total)
            batch: list[dict] = []
            for ev in shop.history(days, base_sessions=sessions_per_day):
                batch.append(ev)
                if len(batch) >= BATCH:
                    sender.post(batch)
                    progress.advance(task, len(batch))
                    batch = []
            if batch:
                sender.post(batch)
                progress.advance(task, len(batch))
            progress.update(task, total=progress.tasks[0].completed)
        if days >= 60 and churn_users > 0:
            _churn_cohort(sender, days, churn_users, seed)
        print(f"backfill done: {sender.sent} events accepted, {sender.rejected} rejected")
    if rate <= 0:
        return 0
    print(f"live traffic at ~{rate:g} events/s to {url} (Ctrl-C to stop)")
    started = time.monotonic()
    try:
        while duration <= 0 or time.monotonic() - started < duration:
            tick = time.monotonic()
            events: list[dict] = []
            while len(events) < rate:
                events.extend(shop.live(datetime.now(UTC)))
            sender.post(events)
            time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
    except KeyboardInterrupt:
        pass
    print(f"sent {sender.sent} events, {sender.rejected} rejected")
    return 0


def _churn_cohort(sender: Sender, days: int, users: int, seed: int) -> None:
    from datetime import timedelta

    from observatory.demo.churn import ChurnCohort

    end = datetime.now(UTC) - timedelta(minutes=30)
    events, truth = ChurnCohort(seed=seed).generate(users, end - timedelta(days=days), end)
    events.sort(key=lambda e: e["timestamp"])
    for i in range(0, len(events), BATCH):
        sender.post(events[i : i + BATCH])
    gone = sum(1 for t in truth.values() if t is not None)
    print(f"churn cohort: {users} users (c-*), {gone} of them churned at known times, {len(events)} events")
