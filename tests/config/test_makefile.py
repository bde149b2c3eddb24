"""`make help` lists every target of the Makefile (each has a `## description`)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_make_help_lists_every_target() -> None:
    text = (REPO / "Makefile").read_text()
    targets = set(re.findall(r"^([a-z0-9][a-z0-9-]*):", text, flags=re.M))
    out = subprocess.run(["make", "-s", "help"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    listed = set(re.findall(r"^\s+make (\S+)", out, flags=re.M))
    assert targets - listed == set(), "targets without a `## description` (make help misses them)"
    assert {"local", "test", "up", "e2e", "venv", "test-unit", "test-integration", "test-config", "cli"} <= listed
