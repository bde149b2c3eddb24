"""Prediction bands calibrated from backtest residuals (split conformal, pure numpy).

The rolling-origin folds of a refresh give held-out errors of the served model. A band of nominal
level L is yhat ± q · s(yhat), where the score of a held-out point is |y - yhat| / s(yhat) and q is
the ⌈(n+1)·L⌉-th smallest of the n scores (the split-conformal quantile: under exchangeable
errors the band holds a new point with probability >= L). Scores are pooled over every fold and
horizon step (a handful of folds cannot give a quantile per step); the band is calibrated for the
selection horizon and the same width is used further ahead.

Two scales are tried and the narrower band kept:
  absolute  s = 1                         (noise of constant size)
  relative  s = max(|yhat|, 10% of mean|y|) (noise growing with the level, as counts and revenue do)
Coverage reported with the band is measured leave-one-fold-out: each fold's points against the
quantile of the other folds' scores, so it is held out, not in-sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

FLOOR = 0.1


def min_scores(level: float) -> int:
    """Fewest scores for which the conformal quantile is finite: (n + 1) * level <= n."""
    return math.ceil(level / (1 - level) - 1e-9)


def conformal_quantile(scores: np.ndarray, level: float) -> float:
    n = len(scores)
    k = math.ceil((n + 1) * level - 1e-9)
    return math.inf if k > n else float(np.sort(scores)[k - 1])


@dataclass(frozen=True)
class Calibration:
    level: float
    scale: str  # absolute | relative
    quantile: float
    floor: float  # relative scale: smallest s
    scores: int
    coverage: float | None  # leave-one-fold-out coverage on the folds (None: too few folds)

    def scale_of(self, yhat: np.ndarray) -> np.ndarray:
        yhat = np.asarray(yhat, dtype=float)
        return np.ones_like(yhat) if self.scale == "absolute" else np.maximum(np.abs(yhat), self.floor)

    def band(self, yhat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        half = self.quantile * self.scale_of(yhat)
        return np.clip(yhat - half, 0, None), yhat + half

    def as_dict(self) -> dict:
        return {
            "method": "split_conformal",
            "level": self.level,
            "scale": self.scale,
            "quantile": round(self.quantile, 6),
            "scores": self.scores,
            "coverage": None if self.coverage is None else round(self.coverage, 4),
        }


def _scores(folds: list[tuple[np.ndarray, np.ndarray]], scale: str, floor: float) -> list[np.ndarray]:
    if scale == "absolute":
        return [np.abs(a - p) for a, p in folds]
    return [np.abs(a - p) / np.maximum(np.abs(p), floor) for a, p in folds]


def coverage(folds: list[tuple[np.ndarray, np.ndarray]], level: float, scale: str, floor: float) -> float | None:
    """Leave-one-fold-out coverage of the band built from the other folds."""
    per_fold = _scores(folds, scale, floor)
    hits = total = 0
    for j, held in enumerate(per_fold):
        rest = np.concatenate([s for i, s in enumerate(per_fold) if i != j]) if len(per_fold) > 1 else np.array([])
        q = conformal_quantile(rest, level)
        if not math.isfinite(q):
            continue
        hits += int(np.sum(held <= q))
        total += len(held)
    return hits / total if total else None


def calibrate(folds: list[tuple[np.ndarray, np.ndarray]], level: float, typical: float) -> Calibration | None:
    """folds: (actual, predicted) of each held-out window; typical: mean |y| of the history (sets the
    relative scale's floor). None when the folds hold too few points for a finite quantile."""
    n = sum(len(a) for a, _ in folds)
    if n < min_scores(level):
        return None
    floor = max(FLOOR * typical, 1e-9)
    best: tuple[float, str, float] | None = None
    for scale in ("absolute", "relative"):
        scores = np.concatenate(_scores(folds, scale, floor))
        q = conformal_quantile(scores, level)
        predicted = np.concatenate([p for _, p in folds])
        width = q * float(
            np.mean(np.ones_like(predicted) if scale == "absolute" else np.maximum(np.abs(predicted), floor))
        )
        if best is None or width < best[0]:
            best = (width, scale, q)
    assert best is not None  # set by the loop's first pass
    _, scale, q = best
    return Calibration(level, scale, q, floor, n, coverage(folds, level, scale, floor))
