"""Read a chDB folder from another process: `observatory query --format json` in a subprocess.

chDB lets a process open one data folder in its life, so a process that owns (or has owned)
another folder, or must leave this one to its owner later, asks a short-lived child instead
(the benchmarks, the soak test and the tests read stopped stacks' stores this way).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from typing import Any


def query_rows(dsn: str, sql: str, env: Mapping[str, str], timeout_s: float = 300) -> list[dict[str, Any]]:
    """The rows of `sql` as dicts; RuntimeError with the CLI's message when it fails."""
    out = subprocess.run(
        [sys.executable, "-m", "observatory.cli", "query", "--format", "json", "--dsn", dsn, sql],
        env=dict(env),
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    if out.returncode != 0:
        raise RuntimeError(f"reading {dsn} failed: {out.stderr.strip()}")
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
