"""Run a test's child module (`python -m tests.integration.<child>`) in a private network and mount
namespace, as the DNS-discovery and node-exporter tests do: it may bind any loopback address and
mount without touching the host. Root and `unshare` (util-linux) are needed, as for the compose
stack itself."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def run_namespaced(module: str, *args: str, timeout_s: float) -> dict:
    """The child's result: the JSON object on its last line of output (the test fails with the
    child's output if it exits non-zero)."""
    unshare = shutil.which("unshare")
    assert unshare and os.geteuid() == 0, "this test needs root and unshare (util-linux)"
    r = subprocess.run(
        [unshare, "--net", "--mount", "--propagation", "private", sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        cwd=REPO,
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])
