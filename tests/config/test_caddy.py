"""config/caddy/Caddyfile (compose profile `https`): valid for Caddy, and it forwards exactly ingest's
public write paths and health checks: every path the public listener serves is matched, and the
private listener's paths (read API, /metrics, /docs, runbooks, console) are not."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from observatory.ingest.endpoint import PATH
from observatory.ingest.formats import posthog, segment
from tests.tools import require

REPO = Path(__file__).resolve().parents[2]
CADDYFILE = REPO / "config" / "caddy" / "Caddyfile"
ENV = {**os.environ, "OBS_PUBLIC_DOMAIN": "ingest.example.com"}


def _adapted() -> dict:
    r = subprocess.run(
        [require("caddy"), "adapt", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
        env=ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def _forwarded_patterns(node: object) -> list[str]:
    """Path matchers of the routes whose handlers reach the reverse proxy."""
    found: list[str] = []
    if isinstance(node, dict):
        if "match" in node and "reverse_proxy" in json.dumps(node.get("handle", [])):
            for m in node["match"]:
                found += m.get("path", [])
        for v in node.values():
            found += _forwarded_patterns(v)
    elif isinstance(node, list):
        for v in node:
            found += _forwarded_patterns(v)
    return found


def _matches(path: str, patterns: list[str]) -> bool:
    return any(path == p or (p.endswith("*") and path.startswith(p[:-1])) for p in patterns)


def _public_paths() -> list[str]:
    paths = [PATH, "/health/live", "/health/ready", "/array/phc_x/config.js"]
    for p in (*posthog.PATHS, *segment.BATCH_PATHS, *segment.SINGLE_PATHS, "/flags", "/decide"):
        paths += [p.rstrip("/"), p.rstrip("/") + "/"]
    return paths


def test_caddy_validates_the_caddyfile() -> None:
    r = subprocess.run(
        [require("caddy"), "validate", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
        env=ENV,
        capture_output=True,
        text=True,
        check=False,
    )
    assert r.returncode == 0, r.stderr


def test_every_public_write_path_is_forwarded() -> None:
    patterns = _forwarded_patterns(_adapted())
    missing = [p for p in _public_paths() if not _matches(p, patterns)]
    assert missing == []


@pytest.mark.parametrize(
    "path", ["/metrics", "/docs", "/openapi.json", "/v1/query", "/v1/analytics/kpi_summary", "/runbooks/", "/console/"]
)
def test_private_paths_are_not_forwarded(path: str) -> None:
    assert not _matches(path, _forwarded_patterns(_adapted()))


def test_the_site_is_the_configured_domain() -> None:
    assert '"ingest.example.com"' in json.dumps(_adapted())
