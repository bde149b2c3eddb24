"""The forecaster on real public series (`observatory bench --only realseries`): the CSV backtest
(`observatory forecast backtest --csv`, the same folds) over daily and hourly series shipped inside
PyPI packages (realdata.py: the 13 series the selection rule was decided on, and 19 held-out series
reported separately; nothing is downloaded at run time).

Per series: MAE of the served model / the weekly seasonal naive / the best baseline on the same
held-out folds (ETS and both naives, chosen in hindsight) / the rule's own fallback (each fold's, chosen
before it: the baseline, baselines' median or seasonal median that serves unless a richer candidate wins by the
margin), the 95% band's coverage by horizon half,
and the share of held-out points below / above the band (the band alerts' false alarms: the actual
outside the band). `python -m observatory.bench.realseries [--held-out] [--out FILE]` prints (and
writes) the table of docs/forecast-evaluation.md. Runs under `nice -n 10`, one series at a time per worker.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from observatory.bench.realdata import HELD_OUT, SERIES, load
from observatory.forecaster.candidates import BASELINES

FOLDS = {"day": (30, 6), "hour": (24, 10)}  # (horizon, folds) of the CSV backtest
MIN_TRAIN = {"day": 14, "hour": 72}


def evaluate(name: str, prophet_trend: str | None = None) -> dict:
    """Write the series as the CSV the CLI reads and run the CSV backtest on it (the default ModelConfig;
    `prophet_trend`, when given, sets Prophet's trend over the horizon instead of the default)."""
    from observatory.forecaster.csvfile import backtest_csv
    from observatory.forecaster.model import ModelConfig

    os.nice(10) if os.nice(0) < 10 else None
    granularity = (SERIES | HELD_OUT)[name]
    s = load(name)
    horizon, folds = FOLDS[granularity]
    started = time.perf_counter()
    config = ModelConfig() if prophet_trend is None else ModelConfig(prophet_trend=prophet_trend)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{name}.csv"
        fmt = "%Y-%m-%d" if granularity == "day" else "%Y-%m-%dT%H:%M:%SZ"
        path.write_text("ds,y\n" + "".join(f"{t.strftime(fmt)},{float(v)!r}\n" for t, v in zip(s.index, s.to_numpy())))
        r = backtest_csv(path, granularity, horizon, folds, MIN_TRAIN[granularity], config)
    b = r["baselines"]
    served: dict[str, int] = {}
    for f in r["fold_results"]:
        served[f["model"]] = served.get(f["model"], 0) + 1
    return {
        "name": name,
        "granularity": granularity,
        "points": len(s),
        "horizon": horizon,
        "folds": folds,
        "mae": r["mae"],
        "vs_naive_week": r["mae"] / b["seasonal_naive_week"]["mae"] if b["seasonal_naive_week"]["mae"] else None,
        "vs_ets": r["mae"] / b["ets"]["mae"] if b["ets"]["mae"] else None,
        "vs_best": r["relative_mae"],
        "best_baseline": r["best_baseline"],
        "vs_fallback": r["relative_to_fallback"],
        "baseline_mae": {k: v["mae"] for k, v in b.items()},  # None: failed on some fold
        "coverage": r["coverage"],
        "halves": r["coverage_halves"],
        "below": r["below"],
        "above": r["above"],
        "held_out": r["points"],
        "served": served,
        "seconds": time.perf_counter() - started,
    }


def run_all(names: list[str], workers: int, prophet_trend: str | None = None) -> list[dict]:
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(evaluate, names, [prophet_trend] * len(names)))


def references(rows: list[dict]) -> dict[str, dict]:
    """What serving one baseline on every fold would score by the same yardstick: per baseline, the
    median of its MAE / the best baseline's (in hindsight) and on how many series it is at most 1 (it is
    the best one). Context for the served model's figures: the target is against an oracle."""
    out = {}
    for name in BASELINES:
        rel = []
        for r in rows:
            maes = [m for m in r["baseline_mae"].values() if m is not None]
            mine = r["baseline_mae"].get(name)
            if maes and min(maes) > 0:  # a baseline that failed on some fold counts as a loss
                rel.append(mine / min(maes) if mine is not None else math.inf)
        if rel:
            out[name] = {
                "median": statistics.median(rel),
                "at_most_1": sum(v <= 1 + 1e-9 for v in rel),
                "series": len(rel),
            }
    return out


def summary(rows: list[dict]) -> dict:
    rel = [r["vs_best"] for r in rows if r["vs_best"] is not None]
    own = [r["vs_fallback"] for r in rows if r["vs_fallback"] is not None]
    points = sum(r["held_out"] for r in rows)

    def pooled(key, i=None):
        return sum((r[key] if i is None else r[key][i]) * r["held_out"] for r in rows) / points

    return {
        "series": len(rows),
        "median_vs_best": statistics.median(rel),
        "at_most_1": sum(v <= 1 + 1e-9 for v in rel),
        "median_vs_fallback": statistics.median(own) if own else None,
        "at_most_1_fallback": sum(v <= 1 + 1e-9 for v in own),
        "coverage": pooled("coverage"),
        "coverage_first": pooled("halves", 0),
        "coverage_second": pooled("halves", 1),
        "below": pooled("below"),
        "above": pooled("above"),
        "held_out": points,
    }


def table(rows: list[dict]) -> str:
    def f(v, d=3):
        return "n/a" if v is None else f"{v:.{d}f}"

    out = [
        "| series | step | points | folds x horizon | served MAE | / weekly naive | / ETS | / best baseline (which) "
        "| / own fallback | coverage 1st / 2nd half | below / above band | served (folds) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        served = ", ".join(f"{k} {v}" for k, v in sorted(r["served"].items()))
        out.append(
            f"| {r['name']} | {r['granularity']} | {r['points']} | {r['folds']} x {r['horizon']} | {r['mae']:.4g} "
            f"| {f(r['vs_naive_week'])} | {f(r['vs_ets'])} | **{f(r['vs_best'])}** ({r['best_baseline']}) "
            f"| {f(r['vs_fallback'])} | {r['halves'][0] * 100:.1f}% / {r['halves'][1] * 100:.1f}% "
            f"| {r['below'] * 100:.1f}% / {r['above'] * 100:.1f}% | {served} |"
        )
    s = summary(rows)
    out.append("")
    out.append(
        f"Median served MAE / best baseline: **{s['median_vs_best']:.3f}**; at most 1 on **{s['at_most_1']} of "
        f"{s['series']}** series. Against the rule's own fallback: median **{s['median_vs_fallback']:.3f}**, at "
        f"most 1 on **{s['at_most_1_fallback']} of {s['series']}**. 95% band coverage over the {s['held_out']} held-out points: **{s['coverage'] * 100:.1f}%** "
        f"(first half of the horizon {s['coverage_first'] * 100:.1f}%, second half {s['coverage_second'] * 100:.1f}%). "
        f"Band alerts' false alarms (held-out actual outside the band): **{(s['below'] + s['above']) * 100:.1f}%** "
        f"({s['below'] * 100:.1f}% below, {s['above'] * 100:.1f}% above; nominal 2.5% each)."
    )
    refs = references(rows)
    if refs:
        out.append("")
        out.append(
            "For reference, one baseline served on every fold (MAE / best baseline): "
            + "; ".join(
                f"{name} median {v['median']:.3f}, at most 1 on {v['at_most_1']} of {v['series']}"
                for name, v in refs.items()
            )
            + "."
        )
    return "\n".join(out)


def run(report) -> None:
    rows = run_all(list(SERIES), max(1, (os.cpu_count() or 1)))
    held = run_all(list(HELD_OUT), max(1, (os.cpu_count() or 1)))
    _report(report, rows, "")
    _report(report, held, " (held out)")
    _report(report, rows + held, " (all)")
    print(table(rows))
    print(table(held))
    s = summary(rows + held)
    print(
        f"All {s['series']} series: median served MAE / best baseline {s['median_vs_best']:.3f}, at most 1 on "
        f"{s['at_most_1']} of {s['series']}; against the own fallback at most 1 on {s['at_most_1_fallback']}."
    )


def _report(report, rows: list[dict], group: str) -> None:
    s = summary(rows)
    S = "forecast-real" + {"": "", " (held out)": "-held-out", " (all)": "-all"}[group]
    report.add(
        S,
        f"real series{group}: served MAE / best baseline (median of {s['series']})",
        s["median_vs_best"],
        "x",
        target="<= 1",
    )
    report.add(
        S,
        f"real series{group} at or below their best baseline",
        s["at_most_1"] / s["series"] * 100,
        "%",
        target=">= 80 %",
    )
    report.add(
        S,
        f"real series{group} at or below the rule's own fallback (chosen before each fold)",
        s["at_most_1_fallback"] / s["series"] * 100,
        "%",
        target=">= 80 %",
        note=f"median served MAE / own fallback {s['median_vs_fallback']:.3f}",
    )
    report.add(
        S,
        f"real series{group}: 95% band coverage, first half of the horizon",
        s["coverage_first"] * 100,
        "%",
        target="92-98 %",
    )
    report.add(
        S,
        f"real series{group}: 95% band coverage, second half of the horizon",
        s["coverage_second"] * 100,
        "%",
        target="92-98 %",
    )
    report.add(
        S,
        f"real series{group}: band alert false alarms (outside the band)",
        (s["below"] + s["above"]) * 100,
        "%",
        target="~5 %",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", default="", help="comma-separated series names")
    parser.add_argument("--held-out", action="store_true", help="the held-out series (realdata.HELD_OUT)")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--out", type=Path, help="write the table (markdown) here")
    parser.add_argument(
        "--prophet-trend",
        choices=("linear", "flat"),
        help="Prophet's trend over the horizon (OBS_FORECASTER_PROPHET_TREND; default: ModelConfig's, flat)",
    )
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n] or list(HELD_OUT if args.held_out else SERIES)
    rows = run_all(names, args.workers, args.prophet_trend)
    text = table(rows)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
