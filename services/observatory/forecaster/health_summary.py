"""`GET /v1/health/summary`: the console's health page in one JSON answer, from what this process
knows: its own metrics registry (ingest and consumer counters exist only where those services run:
all-in-one, not a standalone forecaster), the queue depth the consumer samples from the broker, the
store (rows inserted in the last hour, redeliveries included: insert activity, not distinct events;
accepted -> queryable latency from `inserted_at - received_at`), and
the firing alerts of Alertmanager's `GET /api/v2/alerts` when `OBS_FORECASTER_ALERTMANAGER_URL` is set.

A figure the process does not have is null, with the reason under `missing`; an unreachable
Alertmanager or store is reported in the answer, never an error of the route.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

import httpx
from prometheus_client import CollectorRegistry

from observatory.store.analytics import Analytics, _bind
from observatory.store.client import render

log = logging.getLogger("observatory.forecaster")

STORE_SQL = """
SELECT
    count() AS rows_inserted_last_hour,
    countIf(inserted_at >= {now:DateTime64(3)} - INTERVAL 5 MINUTE) AS inserted_last_5m,
    max(inserted_at) AS newest_insert,
    quantilesExact(0.5, 0.95)(greatest(0, dateDiff('millisecond', received_at, inserted_at)) / 1000) AS latency_s
FROM ${db}.events
WHERE inserted_at >= {now:DateTime64(3)} - INTERVAL 1 HOUR AND inserted_at <= {now:DateTime64(3)}
"""


def _samples(registry: CollectorRegistry) -> dict[str, list[tuple[dict, float]]]:
    out: dict[str, list[tuple[dict, float]]] = {}
    for family in registry.collect():
        for s in family.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def _total(samples: dict, name: str, match=lambda labels: True) -> float | None:
    found = samples.get(name)
    if found is None:
        return None
    return sum(v for labels, v in found if match(labels))


def _quantile(samples: dict, name: str, q: float) -> float | None:
    """The upper bound of the histogram bucket holding quantile q (None without observations)."""
    buckets = sorted(((float(lab["le"]), v) for lab, v in samples.get(f"{name}_bucket", []) if "le" in lab))
    if not buckets or buckets[-1][1] == 0:
        return None
    want = q * buckets[-1][1]
    return next((le for le, count in buckets if count >= want), None)


class HealthSummary:
    def __init__(
        self,
        registry: CollectorRegistry,
        analytics: Analytics,
        alertmanager_url: str | None = None,
        queue: str = "events",
        timeout_s: float = 3.0,
    ) -> None:
        self.registry = registry
        self.analytics = analytics
        self.alertmanager_url = alertmanager_url.rstrip("/") if alertmanager_url else None
        self.queue = queue
        self.timeout_s = timeout_s
        self._started = time.monotonic()
        self._last: tuple[float, float] | None = None  # (monotonic time, accepted total) of the previous call

    def _ingest(self, samples: dict, missing: dict) -> dict[str, Any] | None:
        accepted = _total(samples, "ingest_events_accepted_total")
        if accepted is None:
            missing["ingest"] = "no ingest in this process (its counters live in the ingest service's /metrics)"
            return None
        now = time.monotonic()
        since, before = self._last or (self._started, 0.0)
        self._last = (now, accepted)
        code = lambda prefix: lambda labels: str(labels.get("code", "")).startswith(prefix)  # noqa: E731
        return {
            "accepted_total": int(accepted),
            "accepted_per_s": (accepted - before) / (now - since) if now > since else None,
            "rejected_total": int(_total(samples, "ingest_events_rejected_total") or 0),
            "http_requests_total": int(_total(samples, "ingest_http_requests_total") or 0),
            "http_4xx_total": int(_total(samples, "ingest_http_requests_total", code("4")) or 0),
            "http_5xx_total": int(_total(samples, "ingest_http_requests_total", code("5")) or 0),
        }

    def _consumer(self, samples: dict, missing: dict) -> tuple[dict | None, dict | None]:
        if "consumer_rows_inserted_total" not in samples:
            missing["consumer"] = "no consumer in this process"
            missing["queue"] = "the queue depth is sampled by the consumer, not in this process"
            return None, None
        depth, consumers, limit = (
            [v for lab, v in samples.get(name, []) if lab.get("queue") == self.queue]
            for name in ("observatory_queue_messages", "observatory_queue_consumers", "observatory_queue_max_length")
        )
        last = _total(samples, "consumer_last_insert_timestamp_seconds")
        queue = {
            "name": self.queue,
            "depth": int(depth[0]) if depth else None,
            "consumers": int(consumers[0]) if consumers else None,
            "max_length": int(limit[0]) if limit else None,
        }
        consumer = {
            "rows_inserted_total": int(_total(samples, "consumer_rows_inserted_total") or 0),
            "insert_errors_total": int(_total(samples, "consumer_insert_errors_total") or 0),
            "lag_messages": queue["depth"],
            "last_insert_age_s": max(0.0, time.time() - last) if last else None,
            "accepted_to_queryable_p50_s": _quantile(samples, "consumer_end_to_end_latency_seconds", 0.5),
            "accepted_to_queryable_p95_s": _quantile(samples, "consumer_end_to_end_latency_seconds", 0.95),
        }
        return queue, consumer

    def _store(self, now: datetime) -> dict[str, Any]:
        try:
            sql = render(STORE_SQL, db=self.analytics.database)
            r = self.analytics.client.query(sql, parameters={"now": _bind(now)}).result_rows[0]
        except Exception as exc:  # noqa: BLE001 - the page shows it
            log.warning("health summary: store query failed: %s", exc)
            return {"reachable": False, "error": str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__}
        count, last_5m, newest, latency = r
        has = count > 0
        return {
            "reachable": True,
            "rows_inserted_last_hour": int(count),
            "inserted_per_s_5m": last_5m / 300,
            "newest_insert_age_s": max(0.0, (now - newest.replace(tzinfo=UTC)).total_seconds()) if has else None,
            "accepted_to_queryable_p50_s": float(latency[0]) if has else None,
            "accepted_to_queryable_p95_s": float(latency[1]) if has else None,
        }

    def _alerts(self) -> dict[str, Any]:
        if not self.alertmanager_url:
            return {"configured": False, "source": None, "error": None, "firing": []}
        out: dict[str, Any] = {"configured": True, "source": self.alertmanager_url, "error": None, "firing": []}
        try:
            r = httpx.get(
                f"{self.alertmanager_url}/api/v2/alerts",
                params={"active": "true", "silenced": "false", "inhibited": "false"},
                timeout=self.timeout_s,
            )
            r.raise_for_status()
            alerts = r.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("health summary: Alertmanager not reachable: %s", exc)
            out["error"] = f"Alertmanager at {self.alertmanager_url} did not answer: {type(exc).__name__}"
            return out
        firing = []
        for a in alerts:
            if (a.get("status") or {}).get("state", "active") != "active":
                continue
            labels, notes = a.get("labels") or {}, a.get("annotations") or {}
            firing.append(
                {
                    "name": labels.get("alertname", ""),
                    "severity": labels.get("severity"),
                    "summary": notes.get("summary") or notes.get("description"),
                    "runbook_url": notes.get("runbook_url"),
                    "starts_at": a.get("startsAt"),
                    "labels": labels,
                }
            )
        order = {"critical": 0, "warning": 1, "info": 2}
        out["firing"] = sorted(
            firing, key=lambda f: (order.get(f["severity"] or "", 3), f["name"], f["starts_at"] or "")
        )
        return out

    def summary(self, now: datetime) -> dict[str, Any]:
        samples = _samples(self.registry)
        missing: dict[str, str] = {}
        ingest = self._ingest(samples, missing)
        queue, consumer = self._consumer(samples, missing)
        return {
            "as_of": now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "ingest": ingest,
            "queue": queue,
            "consumer": consumer,
            "store": self._store(now),
            "alerts": self._alerts(),
            "missing": missing,
        }
