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


@dataclass
class Evaluated:
    """What one monthly run computes (in a fit worker): the holdout's probabilities from the train
    month's model and baseline, their scores, and the serving model's coefficients and scores."""

    p_model: np.ndarray
    p_baseline: np.ndarray
    model: Scores
    baseline: Scores
    coefficients: dict[str, float]
    p_current: np.ndarray


def evaluate_and_score(
    train: np.ndarray,
    train_base: np.ndarray,
    y_train: np.ndarray,
    holdout: np.ndarray,
    holdout_base: np.ndarray,
    y_holdout: np.ndarray,
    current: np.ndarray,
) -> Evaluated:
    """Model and baseline fitted on the train month, scored on the holdout month; the serving model
    refitted on the holdout month scores `current` (matrices of `matrix`). Raises OneClass."""
    full = fit(train, y_train)
    base = fit(train_base, y_train, BASELINE)
    p_full, p_base = full.predict(holdout), base.predict(holdout_base)
    serving = fit(holdout, y_holdout)
    return Evaluated(
        p_full,
        p_base,
        score(y_holdout, p_full),
        score(y_holdout, p_base),
        serving.coefficients(),
        serving.predict(current) if len(current) else np.zeros(0),
    )
