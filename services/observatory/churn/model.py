"""The churn model: a logistic regression on engagement features (pure: numpy arrays in, numbers out).

Features (store/queries/churn_features.sql, the six months before a cutoff): recency (days since the
last event), frequency (active days), monetary (revenue), sessions, support tickets, refunds, payment
failures. Counts and money enter as log1p, then standardised; class weights are not balanced, so the
output is a calibrated probability (checked by the Brier score). The baseline is the same regression on
recency alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline

FEATURES = ("recency_days", "frequency", "monetary", "sessions", "support_tickets", "refunds", "payment_failures")
BASELINE = ("recency_days",)


def matrix(rows: list[dict], columns: tuple[str, ...] = FEATURES) -> np.ndarray:
    x = np.array([[float(r[c]) for c in columns] for r in rows], dtype=np.float64).reshape(len(rows), len(columns))
    return np.log1p(np.clip(x, 0, None))


@dataclass
class Fitted:
    columns: tuple[str, ...]
    pipeline: Pipeline
    train_rows: int
    train_positive_rate: float

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.pipeline.predict_proba(x)[:, 1]

    def coefficients(self) -> dict[str, float]:
        lr = self.pipeline[-1]
        return {c: round(float(w), 4) for c, w in zip(self.columns, lr.coef_[0])}


class OneClass(ValueError):
    """The training labels hold a single class: nothing to learn yet."""


def fit(x: np.ndarray, y: np.ndarray, columns: tuple[str, ...] = FEATURES) -> Fitted:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    y = np.asarray(y, dtype=np.int8)
    if len(np.unique(y)) < 2:
        raise OneClass(f"{len(y)} training users, all labelled {int(y[0]) if len(y) else '-'}")
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))
    pipeline.fit(x, y)
    return Fitted(columns, pipeline, len(y), float(y.mean()))


@dataclass(frozen=True)
class Scores:
    auc: float | None
    brier: float

    def as_dict(self) -> dict:
        return {"auc": None if self.auc is None else round(self.auc, 4), "brier": round(self.brier, 4)}


def score(y: np.ndarray, p: np.ndarray) -> Scores:
    from sklearn.metrics import brier_score_loss, roc_auc_score

    y = np.asarray(y)
    auc = float(roc_auc_score(y, p)) if len(np.unique(y)) == 2 else None
    return Scores(auc, float(brier_score_loss(y, p)))
