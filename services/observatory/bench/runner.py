"""Run the benchmark sections and print one table (also saved under .bench/)."""

from __future__ import annotations

import argparse
import importlib
import time
from pathlib import Path

from observatory.bench import Report

SECTIONS = ("pipeline", "alerting", "forecast", "realseries", "tracing", "fault", "webanalytics", "pages", "console")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="observatory bench", description=__doc__)
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections: " + ", ".join(SECTIONS))
    parser.add_argument("--out", type=Path, default=Path(".bench") / "report", help="where to save .md/.json")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy profiles of ingest and the consumer under load (pipeline), in the --out folder",
    )
    args = parser.parse_args(argv)
    report = Report(out_dir=args.out.parent, profile=args.profile)
    report.out_dir.mkdir(parents=True, exist_ok=True)
    for name in [s.strip() for s in args.only.split(",") if s.strip()]:
        if name not in SECTIONS:
            parser.error(f"unknown section {name!r}")
        try:
            module = importlib.import_module(f"observatory.bench.{name}")
        except ModuleNotFoundError:
            print(f"== {name}: not available in this checkout, skipped")
            continue
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        module.run(report)
        print(f"   ({time.perf_counter() - started:.0f} s)")
    print()
    print(report.table())
    report.save(args.out)
    print(f"\nsaved {args.out.with_suffix('.md')} and .json")
    return 0
