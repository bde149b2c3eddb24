"""Benchmarks (`make bench` / `observatory bench`): figures printed beside their targets and beside a
ceiling measured in the same run on the same machine. Never part of the test suite."""

from __future__ import annotations

import json
import math
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil


@dataclass
class Row:
    section: str
    name: str
    value: float
    unit: str
    target: str | None = None
    ceiling: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.ceiling in (None, 0) or self.value is None or math.isnan(self.value):
            return None
        return self.value / self.ceiling


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    out_dir: Path = field(default_factory=lambda: Path(".bench"))  # charts go next to report.md
    profile: bool = False  # py-spy profiles of the processes under load (bench/profile.py)

    def add(
        self,
        section: str,
        name: str,
        value: float,
        unit: str,
        target: str | None = None,
        ceiling: float | None = None,
        note: str = "",
    ) -> None:
        row = Row(section, name, float(value), unit, target, ceiling, note)
        self.rows.append(row)
        print(
            f"  [{section}] {name}: {_fmt(row.value)} {unit}"
            + (f"  (target {target})" if target else "")
            + (f"  ceiling {_fmt(ceiling)} {unit}, ratio {row.ratio:.2f}" if row.ratio is not None else "")
            + (f"  — {note}" if note else ""),
            flush=True,
        )

    def machine(self) -> str:
        return (
            f"{platform.node()}: {psutil.cpu_count()} cores, "
            f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}"
        )

    def table(self) -> str:
        lines = [
            f"Benchmark on {self.machine()}, {time.strftime('%Y-%m-%d %H:%M', time.gmtime(self.started))} UTC",
            "",
            "| section | measure | value | target | ceiling (same run) | ratio | note |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in self.rows:
            lines.append(
                f"| {r.section} | {r.name} | {_fmt(r.value)} {r.unit} | {r.target or ''} | "
                f"{_fmt(r.ceiling) + ' ' + r.unit if r.ceiling is not None else ''} | "
                f"{f'{r.ratio:.2f}' if r.ratio is not None else ''} | {r.note} |"
            )
        return "\n".join(lines)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.with_suffix(".md").write_text(self.table() + "\n")
        path.with_suffix(".json").write_text(json.dumps([asdict(r) for r in self.rows], indent=2))


def _fmt(v: float | None) -> str:
    if v is None:
        return ""
    if math.isnan(v):
        return "n/a"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.3g}"
