"""Prediction bands calibrated from backtest residuals (split conformal, pure numpy).

The rolling-origin folds of a refresh give held-out errors of the served model. A band of nominal
level L is yhat ± q_b · s(yhat), where the score of a held-out point is |y - yhat| / s(yhat) and q_b
is the ⌈(n+1)·L⌉-th smallest of the n scores of its horizon bucket b (the split-conformal quantile:
under exchangeable errors the band holds a new point with probability >= L).

Buckets: the first and the second half of the fold horizon (steps 0..⌈h/2⌉-1 and the rest), scores
pooled over the folds within each bucket; errors grow with the step, so one pooled quantile is too
wide near and too narrow far. A bucket with too few scores for a finite quantile takes the pooled
one. Steps past the calibrated horizon (the service forecasts further ahead) take the second half's.

Two scales are tried:
  absolute  s = 1                         (noise of constant size)
  relative  s = max(|yhat|, 10% of mean|y|) (noise growing with the level, as counts and revenue do)
and the one that calibrates better on the folds is kept: among the scales whose leave-one-fold-out
coverage (each fold's points against the quantiles of the other folds) reaches L - 2 points, the
narrower band; when neither does, the one with the higher held-out coverage. When the kept scale's
held-out coverage falls short of L (errors that drift with level shifts are not exchangeable), the
quantiles are taken again at L + the shortfall (at most 0.99, and only where finite). The coverage
reported with the band is the leave-one-fold-out coverage at L: held out, not in-sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

FLOOR = 0.1
TOLERANCE = 0.02  # a scale "calibrates" when its held-out coverage is at least level - this


def min_scores(level: float) -> int:
    """Fewest scores for which the conformal quantile is finite: (n + 1) * level <= n."""
    return math.ceil(level / (1 - level) - 1e-9)


def conformal_quantile(scores: np.ndarray, level: float, weights: np.ndarray | None = None) -> float:
    """The split-conformal quantile: the ⌈(n+1)·level⌉-th smallest score. With weights (one per
    score, the new point weighing 1): the smallest score whose weighted share of the scores and the
    new point reaches level (non-exchangeable conformal, Barber et al. 2023); equal weights of 1
    give the unweighted quantile."""
    n = len(scores)
    if weights is None:
        k = math.ceil((n + 1) * level - 1e-9)
        return math.inf if k > n else float(np.sort(scores)[k - 1])
    order = np.argsort(scores, kind="stable")
    share = np.cumsum(np.asarray(weights, dtype=float)[order]) / (float(np.sum(weights)) + 1.0)
    k = int(np.searchsorted(share, level - 1e-9))
    return math.inf if k >= n else float(np.asarray(scores)[order][k])


def split_step(horizon: int) -> int:
    """First step of the second horizon bucket."""
    return max(1, math.ceil(horizon / 2))


@dataclass(frozen=True)
class Calibration:
    level: float
    scale: str  # absolute | relative
    quantiles: tuple[float, float]  # first half of the horizon, second half (and beyond)
    floor: float  # relative scale: smallest s
    scores: int
    coverage: float | None  # leave-one-fold-out coverage on the folds (None: too few folds)
    split: int = 1  # first step of the second bucket
    horizon: int = 0  # steps calibrated (0: unknown, no growth past it)
    growth: float = 0.0  # β: the exponent of the band's growth past the calibrated horizon

    @property
    def quantile(self) -> float:
        return max(self.quantiles)

    def scale_of(self, yhat: np.ndarray) -> np.ndarray:
        yhat = np.asarray(yhat, dtype=float)
        return np.ones_like(yhat) if self.scale == "absolute" else np.maximum(np.abs(yhat), self.floor)

    def band(self, yhat: np.ndarray, steps: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """steps: each value's horizon step (0 = the first bucket after the data); None: all step 0."""
        yhat = np.asarray(yhat, dtype=float)
        steps = np.zeros(len(yhat), dtype=int) if steps is None else np.asarray(steps)
        q = np.where(steps < self.split, self.quantiles[0], self.quantiles[1])
        if self.horizon and self.growth > 0:
            mid = (self.split + self.horizon - 1) / 2
            q = np.where(steps >= self.horizon, q * ((steps + 1) / (mid + 1)) ** self.growth, q)
        half = q * self.scale_of(yhat)
        return np.clip(yhat - half, 0, None), yhat + half

    def as_dict(self) -> dict:
        return {
            "method": "split_conformal",
            "level": self.level,
            "scale": self.scale,
            "quantile": round(self.quantile, 6),
            "quantiles": [round(q, 6) for q in self.quantiles],
            "split_step": self.split,
            "horizon": self.horizon,
            "growth": round(self.growth, 4),
            "scores": self.scores,
            "coverage": None if self.coverage is None else round(self.coverage, 4),
        }


def _scores(folds: list[tuple[np.ndarray, np.ndarray]], scale: str, floor: float) -> list[np.ndarray]:
    if scale == "absolute":
        return [np.abs(a - p) for a, p in folds]
    return [np.abs(a - p) / np.maximum(np.abs(p), floor) for a, p in folds]


def fold_weights(folds: int, half_life: float | None) -> np.ndarray:
    """Weight of each fold's scores (oldest first): 2^(-age / half_life), age 0 for the most recent
    fold; all 1 without a half-life."""
    age = np.arange(folds)[::-1]
    return np.ones(folds) if not half_life else 0.5 ** (age / half_life)


def _quantiles(
    per_fold: list[np.ndarray], split: int, level: float, half_life: float | None = None
) -> tuple[float, float]:
    """Per-bucket conformal quantiles of the folds' scores (a bucket too small for a finite one
    takes the pooled quantile). half_life: fold weights (fold_weights); where the weights are too
    light for a finite weighted quantile (few folds) the unweighted one is taken."""
    if not per_fold:
        return math.inf, math.inf
    w = fold_weights(len(per_fold), half_life) if half_life else None

    def q(parts: list[np.ndarray]) -> float:
        scores = np.concatenate(parts)
        if not len(scores):
            return math.inf
        if w is not None:  # too little weight for a finite weighted quantile: the unweighted one
            weighted = conformal_quantile(
                scores, level, np.concatenate([np.full(len(p), wi) for p, wi in zip(parts, w)])
            )
            if math.isfinite(weighted):
                return weighted
        return conformal_quantile(scores, level)

    pooled = q(per_fold)
    out = [q([s[:split] for s in per_fold]), q([s[split:] for s in per_fold])]
    return tuple(v if math.isfinite(v) else pooled for v in out)  # type: ignore[return-value]


def coverage(
    folds: list[tuple[np.ndarray, np.ndarray]],
    level: float,
    scale: str,
    floor: float,
    split: int | None = None,
    half_life: float | None = None,
) -> float | None:
    """Leave-one-fold-out coverage of the band built from the other folds."""
    per_fold = _scores(folds, scale, floor)
    split = split if split is not None else split_step(max((len(s) for s in per_fold), default=1))
    hits = total = 0
    for j, held in enumerate(per_fold):
        q0, q1 = _quantiles([s for i, s in enumerate(per_fold) if i != j], split, level, half_life)
        if not (math.isfinite(q0) and math.isfinite(q1)):
            continue
        q = np.where(np.arange(len(held)) < split, q0, q1)
        hits += int(np.sum(held <= q))
        total += len(held)
    return hits / total if total else None


def calibrate(
    folds: list[tuple[np.ndarray, np.ndarray]], level: float, typical: float, half_life: float | None = None
) -> Calibration | None:
    """folds: (actual, predicted) of each held-out window, step 0 first; typical: mean |y| of the
    history (sets the relative scale's floor). None when the folds hold too few points for a finite
    quantile."""
    n = sum(len(a) for a, _ in folds)
    if n < min_scores(level):
        return None
    floor = max(FLOOR * typical, 1e-9)
    split = split_step(max(len(a) for a, _ in folds))
    predicted = np.concatenate([p for _, p in folds])
    options = []
    for scale in ("absolute", "relative"):
        q0, q1 = _quantiles(_scores(folds, scale, floor), split, level, half_life)
        s = np.ones_like(predicted) if scale == "absolute" else np.maximum(np.abs(predicted), floor)
        width = float(np.mean(s)) * (q0 + q1) / 2
        held = coverage(folds, level, scale, floor, split, half_life)
        options.append((scale, (q0, q1), width, held))
    calibrated = [o for o in options if o[3] is not None and o[3] >= level - TOLERANCE]
    if calibrated:
        scale, qs, _, held = min(calibrated, key=lambda o: o[2])
    elif all(o[3] is not None for o in options):
        scale, qs, _, held = max(options, key=lambda o: (o[3], -o[2]))
    else:  # too few folds to hold one out: the narrower band
        scale, qs, _, held = min(options, key=lambda o: o[2])
    if held is not None and held < level:
        wider = _quantiles(_scores(folds, scale, floor), split, min(0.99, level + (level - held)), half_life)
        qs = (max(qs[0], wider[0]), max(qs[1], wider[1])) if all(map(math.isfinite, wider)) else qs
    horizon = max(len(a) for a, _ in folds)
    return Calibration(level, scale, qs, floor, n, held, split, horizon, _growth(qs, split, horizon))


def _growth(qs: tuple[float, float], split: int, horizon: int) -> float:
    m1, m2 = (split - 1) / 2, (split + horizon - 1) / 2
    if horizon <= split or qs[0] <= 0 or qs[1] <= qs[0]:
        return 0.0
    return float(min(0.5, math.log(qs[1] / qs[0]) / math.log((m2 + 1) / (m1 + 1))))
