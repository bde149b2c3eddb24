"""Every Grafana dashboard (dashboards/grafana/*.json, all of generate_grafana.py's output) checked
against Grafana's published schema: the @grafana/schema npm package of the Grafana version the stack
runs (types generated from Grafana's CUE schema for the dashboard JSON model and for each panel
type's options), applied by the TypeScript compiler (tests/config/grafana_schema/check.mjs).
Versions pinned by tests/config/grafana_schema/package-lock.json; `scripts/bootstrap.sh dev`
installs them (npm ci)."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
CHECKER = REPO / "tests" / "config" / "grafana_schema"
DASHBOARDS = sorted((REPO / "dashboards" / "grafana").glob("*.json"))


def run_check(files: list[Path]) -> subprocess.CompletedProcess:
    node = shutil.which("node")
    if node is None or not (CHECKER / "node_modules" / "@grafana" / "schema").is_dir():
        raise RuntimeError(
            "the dashboard schema check is not installed: run scripts/bootstrap.sh dev "
            f"(or npm ci --prefix {CHECKER.relative_to(REPO)})"
        )
    out = CHECKER / f".out-{uuid.uuid4().hex[:8]}"
    try:
        return subprocess.run(
            [node, str(CHECKER / "check.mjs"), str(out), *map(str, files)],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=CHECKER,
        )
    finally:
        shutil.rmtree(out, ignore_errors=True)


def test_the_schema_is_the_one_of_the_grafana_image():
    lock = json.loads((CHECKER / "package-lock.json").read_text())
    schema = lock["packages"]["node_modules/@grafana/schema"]["version"]
    image = yaml.safe_load((REPO / "docker-compose.yml").read_text())["x-images"]["grafana"]
    assert image == f"grafana/grafana:{schema}", f"@grafana/schema {schema} does not match the image {image}"


def test_every_dashboard_conforms_to_grafanas_schema():
    assert len(DASHBOARDS) >= 5
    r = run_check(DASHBOARDS)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{len(DASHBOARDS)} dashboard(s) conform" in r.stdout


def test_a_dashboard_breaking_the_schema_is_refused(tmp_path):
    """The check can fail: a misspelled stat option, a wrong-typed refresh and an unknown panel key."""
    d = json.loads((REPO / "dashboards/grafana/pipeline.json").read_text())
    stat = next(p for p in d["panels"] if p["type"] == "stat")
    stat["options"]["colourMode"] = stat["options"].pop("colorMode", "value")
    d["refresh"] = 30
    d["panels"][0]["gridPosition"] = d["panels"][0]["gridPos"]
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(d))
    r = run_check([broken])
    assert r.returncode != 0
    for needle in (
        "colourMode\"' does not exist",
        "Type 'number' is not assignable to type 'string'",
        "gridPosition\"' does not exist",
    ):
        assert needle in r.stdout, f"{needle!r} not reported:\n{r.stdout[:3000]}"


def test_a_panel_type_without_a_published_schema_is_refused(tmp_path):
    """Every panel's options are checked against its own type's schema: a type Grafana does not
    publish one for cannot slip through as a generic panel."""
    d = json.loads((REPO / "dashboards/grafana/pipeline.json").read_text())
    next(p for p in d["panels"] if p["type"] == "stat")["type"] = "mystery-panel"
    broken = tmp_path / "mystery.json"
    broken.write_text(json.dumps(d))
    r = run_check([broken])
    assert r.returncode != 0 and "no published schema for panel type(s) mystery-panel" in r.stdout, r.stdout
