"""The alert rule files: listing, parsing, and the shortened copy the live tests and the benchmark load.

Why a shortened copy: the repo's `for:` durations (1-15 minutes) are right for production and
far too long for a test that must see an alert fire and resolve. The copy keeps every expression,
label and annotation byte for byte and divides only `for:` (by 60 by default: minutes become
seconds), so the live test exercises the same rules the stack runs, at test speed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from observatory.monitoring import RULES_DIR, dump_yaml, load_yaml

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}
_PART = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")


@dataclass(frozen=True)
class Alert:
    file: Path
    group: str
    rule: dict

    @property
    def name(self) -> str:
        return self.rule["alert"]

    @property
    def labels(self) -> dict:
        return self.rule.get("labels") or {}

    @property
    def annotations(self) -> dict:
        return self.rule.get("annotations") or {}


def rule_files(rules_dir: Path = RULES_DIR) -> list[Path]:
    """Every rule file of the folder, named explicitly (a glob that matches nothing checks nothing)."""
    return sorted(rules_dir.glob("*.rules.yml"))


def iter_rules(files: list[Path]) -> Iterator[tuple[Path, str, dict]]:
    for path in files:
        for group in (load_yaml(path) or {}).get("groups", []):
            for rule in group.get("rules", []):
                yield path, group["name"], rule


def alerts(files: list[Path] | None = None) -> list[Alert]:
    return [Alert(p, g, r) for p, g, r in iter_rules(rule_files() if files is None else files) if "alert" in r]


def parse_duration(text: str) -> float:
    """Prometheus duration (`1h30m`, `90s`, `0s`) in seconds."""
    text = str(text).strip()
    parts = _PART.findall(text)
    if not parts or "".join(n + u for n, u in parts) != text:
        raise ValueError(f"not a Prometheus duration: {text!r}")
    return sum(int(n) * _UNITS[u] for n, u in parts)


def format_duration(seconds: float) -> str:
    ms = round(seconds * 1000)
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def shortened_copy(
    out_dir: Path, factor: float = 60.0, minimum_s: float = 1.0, files: list[Path] | None = None
) -> list[Path]:
    """Write the rule files to `out_dir` with every `for:` divided by `factor` (at least `minimum_s`,
    0 stays 0). Everything else is kept as is. Returns the written paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in rule_files() if files is None else files:
        doc = load_yaml(path)
        for group in doc.get("groups", []):
            for rule in group.get("rules", []):
                if "for" in rule:
                    seconds = parse_duration(rule["for"])
                    rule["for"] = format_duration(max(minimum_s, seconds / factor) if seconds else 0)
        target = out_dir / path.name
        target.write_text(f"# shortened copy of {path} (for: divided by {factor:g})\n" + dump_yaml(doc))
        written.append(target)
    return written
