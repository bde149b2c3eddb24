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

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHECKER = REPO / "tests" / "config" / "grafana_schema"
DASHBOARDS = sorted((REPO / "dashboards" / "grafana").glob("*.json"))


def run_check(files: list[Path]) -> subprocess.CompletedProcess:
    node = shutil.which("node")
    if node is None or not (CHECKER / "node_modules" / "@grafana" / "schema").is_dir():
        raise RuntimeError("the dashboard schema check is not installed: run scripts/bootstrap.sh dev "
                           f"(or npm ci --prefix {CHECKER.relative_to(REPO)})")
    out = CHECKER / f".out-{uuid.uuid4().hex[:8]}"
    try:
        return subprocess.run([node, str(CHECKER / "check.mjs"), str(out), *map(str, files)], capture_output=True,
                              text=True, timeout=300, cwd=CHECKER)
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
    for needle in ("colourMode\"' does not exist", "Type 'number' is not assignable to type 'string'", "gridPosition\"' does not exist"):
        assert needle in r.stdout, f"{needle!r} not reported:\n{r.stdout[:3000]}"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_panel_types_have_their_options_schema_checked(path):
    """Panel types the checker knows the options schema of; a new type must be added to check.mjs."""
    known = {"row"} | set(__import__("re").findall(r"^\s+(\w+): \['", (CHECKER / "check.mjs").read_text(), flags=8))

    def types(panels):
        for p in panels:
            yield p["type"]
            yield from types(p.get("panels", []))

    unknown = set(types(json.loads(path.read_text())["panels"])) - known
    assert not unknown, f"{path.name}: panel types {unknown} are only checked as generic panels: add them to check.mjs"
