"""Monthly churn scoring: features from ClickHouse, a time-based holdout evaluation, the scores of
every active user stored in `churn_scores`, and bounded gauges per segment.

Who is scored: the *active* users at a cutoff, i.e. with an event in the month before it (users already
gone longer are churned, not at risk). Features look back six months.
Cutoffs are UTC month starts. At cutoff C (the current month):
  train   features at C-2 (the six months before it), label = no event in the month [C-2, C-1)
  holdout features at C-1, label = no event in [C-1, C): ROC AUC and Brier of the model and of the
          recency-only baseline (both fitted on the train cutoff)
  serve   the model refitted on the holdout month (the newest labels), scoring the features at C:
          the probability that a user active in the six months before C has no event in month C.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry, Gauge

from observatory.churn import model as m
from observatory.churn.segments import segment_summary
from observatory.store.analytics import Analytics, utc

log = logging.getLogger("observatory.churn")
SCORE_COLUMNS = (
    "cutoff",
    "user_id",
    "probability",
    "country",
    "device_type",
    "source",
    "plan",
    "recency_days",
    "frequency",
    "monetary",
    "sessions",
    "support_tickets",
    "refunds",
    "payment_failures",
    "scored_at",
    "model_auc",
    "model_brier",
)


# the feature reads' ClickHouse settings (see ChurnService.features)
LEAN_READ = {"max_threads": 1, "do_not_merge_across_partitions_select_final": 1}


class InsufficientChurnData(ValueError):
    pass


def month_start(t: datetime, add: int = 0) -> datetime:
    t = utc(t)
    index = t.year * 12 + (t.month - 1) + add
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


@dataclass
class ChurnMetrics:
    probability: Gauge
    users: Gauge
    at_risk: Gauge
    auc: Gauge
    brier: Gauge
    scored: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> ChurnMetrics:
        seg = ["segment", "value"]
        return cls(
            Gauge(
                "churn_probability_mean",
                "Mean churn probability of the segment's users (newest scoring run)",
                seg,
                registry=registry,
            ),
            Gauge("churn_users", "Users scored in the segment", seg, registry=registry),
            Gauge("churn_users_at_risk", "Users of the segment with churn probability >= 0.5", seg, registry=registry),
            Gauge("churn_model_auc", "ROC AUC on the time-based holdout month", ["model"], registry=registry),
            Gauge("churn_model_brier", "Brier score on the time-based holdout month", ["model"], registry=registry),
            Gauge("churn_scored_timestamp_seconds", "When the churn scores were last written", registry=registry),
        )


@dataclass
class ChurnRun:
    cutoff: datetime
    scored_at: datetime
    model: m.Scores
    baseline: m.Scores
    train_users: int
    holdout_users: int
    holdout_churn_rate: float
    coefficients: dict[str, float]
    users: list[dict] = field(repr=False, default_factory=list)  # features + probability at cutoff
    holdout: list[dict] = field(repr=False, default_factory=list)  # holdout users with both models' p
    fit_seconds: float = 0.0
    scored_users: int | None = None  # len(users) once the rows are dropped

    def as_dict(self) -> dict:
        return {
            "cutoff": self.cutoff.date().isoformat(),
            "scored_at": self.scored_at.isoformat(),
            "users": len(self.users) if self.scored_users is None else self.scored_users,
            "fit_seconds": round(self.fit_seconds, 3),
            "evaluation": {
                "holdout_cutoff": month_start(self.cutoff, -1).date().isoformat(),
                "train_users": self.train_users,
                "holdout_users": self.holdout_users,
                "holdout_churn_rate": round(self.holdout_churn_rate, 4),
                "model": self.model.as_dict(),
                "recency_baseline": self.baseline.as_dict(),
            },
            "coefficients": self.coefficients,
        }


class ChurnService:
    def __init__(
        self,
        analytics: Analytics,
        registry: CollectorRegistry | None = None,
        months: int = 6,
        min_users: int = 50,
        shards: int = 8,
        compute: Callable[..., Any] | None = None,
    ) -> None:
        self.shards = max(1, shards)
        # runs the fits: compute(fn, *args) -> fn(*args), in a fit worker process in the forecaster
        self.compute = compute or (lambda fn, *args: fn(*args))
        self.analytics = analytics
        self.metrics = ChurnMetrics.create(registry) if registry is not None else None
        self.months = months
        self.min_users = min_users
        self.last: ChurnRun | None = None

    # -- data ------------------------------------------------------------------------------------
    def features(self, cutoff: datetime) -> list[dict]:
        """Features of the users active in the month before `cutoff`, over the `months` before it.

        Read in `shards` passes, each over the users of one hash bucket (ClickHouse's
        additional_table_filters on the events table): the per-user aggregation states of one pass
        are a fraction of the whole, and in all-in-one they live in this process (embedded chDB).
        Each pass reads with one thread, and FINAL merges within a month's partition only (the rows
        FINAL collapses share event_name, day and event_id, hence their month): on 1M events that
        cut the engine's transient memory of a pass from ~170 MB to ~70 MB, same rows."""
        table = f"{self.analytics.database}.events"
        active_days = (cutoff - month_start(cutoff, -1)).total_seconds() / 86400
        rows: list[dict] = []
        for shard in range(self.shards):
            settings: dict = dict(LEAN_READ)
            if self.shards > 1:
                settings["additional_table_filters"] = {table: f"cityHash64(user_id) % {self.shards} = {shard}"}
            part = self.analytics.run(
                "churn_features", settings=settings, start=month_start(cutoff, -self.months), end=cutoff
            ).dicts()
            rows += [r for r in part if r["recency_days"] <= active_days]
        rows.sort(key=lambda r: r["user_id"])
        return rows

    def churned(self, cutoff: datetime, users: list[dict]) -> np.ndarray:
        """1 for each user without any event in the month from `cutoff`."""
        active = {
            r[0]
            for r in self.analytics.client.query(
                f"SELECT DISTINCT user_id FROM {self.analytics.database}.events "
                "WHERE timestamp >= {s:DateTime64(3)} AND timestamp < {e:DateTime64(3)}",
                parameters={"s": _bind(cutoff), "e": _bind(month_start(cutoff, 1))},
            ).result_rows
        }
        return np.array([0 if u["user_id"] in active else 1 for u in users], dtype=np.int8)

    # -- the monthly run -------------------------------------------------------------------------
    def run(self, now: datetime, store: bool = True) -> ChurnRun:
        started = time.perf_counter()
        cutoff = month_start(now)
        train_at, holdout_at = month_start(cutoff, -2), month_start(cutoff, -1)
        train = self.features(train_at)
        holdout = self.features(holdout_at)
        if len(train) < self.min_users or len(holdout) < self.min_users:
            raise InsufficientChurnData(
                f"{len(train)} users at {train_at.date()} and {len(holdout)} at "
                f"{holdout_at.date()}; at least {self.min_users} each needed"
            )
        y_train, y_holdout = self.churned(train_at, train), self.churned(holdout_at, holdout)
        n_train, n_holdout = len(train), len(holdout)
        x_train, xb_train = m.matrix(train), m.matrix(train, m.BASELINE)
        train = []  # from here only matrices and ids: at most one month of rows held at once
        x_holdout, xb_holdout = m.matrix(holdout), m.matrix(holdout, m.BASELINE)
        holdout_ids = [r["user_id"] for r in holdout]
        holdout = []
        current = self.features(cutoff)
        try:
            ev = self.compute(
                m.evaluate_and_score, x_train, xb_train, y_train, x_holdout, xb_holdout, y_holdout, m.matrix(current)
            )
        except m.OneClass as exc:
            raise InsufficientChurnData(str(exc)) from None
        for row, p in zip(current, ev.p_current):
            row["probability"] = float(p)
        result = ChurnRun(
            cutoff,
            datetime.now(UTC),
            ev.model,
            ev.baseline,
            n_train,
            n_holdout,
            float(y_holdout.mean()),
            ev.coefficients,
            current,
            [
                {"user_id": u, "churned": int(y), "probability": float(pf), "baseline": float(pb)}
                for u, y, pf, pb in zip(holdout_ids, y_holdout, ev.p_model, ev.p_baseline)
            ],
        )
        result.fit_seconds = time.perf_counter() - started
        if store:
            self.store(result)
        self.export(result)
        # kept for the API without its rows (they are in churn_scores; 50,000 users: ~40 MB of dicts)
        self.last = replace(result, users=[], holdout=[], scored_users=len(current))
        log.info(
            "churn scored",
            extra={
                "cutoff": cutoff.date().isoformat(),
                "users": len(current),
                "auc": result.model.auc,
                "baseline_auc": result.baseline.auc,
                "seconds": round(result.fit_seconds, 2),
            },
        )
        return result

    def due(self, now: datetime) -> bool:
        """True unless this month's cutoff was already scored (in this process or in the table)."""
        cutoff = month_start(now)
        if self.last is not None and self.last.cutoff >= cutoff:
            return False
        rows = self.analytics.client.query(
            f"SELECT count() FROM {self.analytics.database}.churn_scores WHERE cutoff = {{c:Date}}",
            parameters={"c": cutoff.date().isoformat()},
        ).result_rows
        return rows[0][0] == 0

    def store(self, run: ChurnRun, batch: int = 20_000) -> None:
        """Insert the scores `batch` users at a time (the row lists of all 50,000 were ~40 MB at once)."""
        for i in range(0, len(run.users), batch):
            rows = [
                [
                    run.cutoff.date(),
                    u["user_id"],
                    u["probability"],
                    u["country"],
                    u["device_type"],
                    u["source"],
                    u["plan"],
                    float(u["recency_days"]),
                    u["frequency"],
                    float(u["monetary"]),
                    u["sessions"],
                    u["support_tickets"],
                    u["refunds"],
                    u["payment_failures"],
                    run.scored_at,
                    run.model.auc,
                    run.model.brier,
                ]
                for u in run.users[i : i + batch]
            ]
            self.analytics.client.insert(f"{self.analytics.database}.churn_scores", rows, column_names=SCORE_COLUMNS)

    def export(self, run: ChurnRun) -> None:
        """Gauges per segment, at most segments.MAX_VALUES values each (+ `other`), replacing the previous run's."""
        g = self.metrics
        if g is None:
            return
        for gauge in (g.probability, g.users, g.at_risk):
            gauge.clear()
        for segment, value, users, mean, risk in segment_summary(run.users):
            g.probability.labels(segment, value).set(mean)
            g.users.labels(segment, value).set(users)
            g.at_risk.labels(segment, value).set(risk)
        for name, s in (("logistic", run.model), ("recency_baseline", run.baseline)):
            if s.auc is not None:
                g.auc.labels(name).set(s.auc)
            g.brier.labels(name).set(s.brier)
        g.scored.set(run.scored_at.timestamp())


def _bind(t: datetime) -> str:
    return utc(t).strftime("%Y-%m-%d %H:%M:%S.000")
