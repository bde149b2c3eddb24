"""What the generator writes, where: every Grafana dashboard as dashboards/grafana/<name>.json and
the Kibana saved objects as dashboards/kibana/observatory-logs.ndjson, under an output folder (by
default the repository's dashboards/); and the comparison of such a folder with the generator's
output (`observatory dashboards build --check`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from observatory.dashboards import business, frontend, infrastructure, kibana, pipeline, slos, stack_health
from observatory.dashboards.grafana import Dash

REPO_DASHBOARDS = Path(__file__).resolve().parents[3] / "dashboards"

GRAFANA: dict[str, Callable[[], Dash]] = {
    "pipeline.json": pipeline.dashboard,
    "slos.json": slos.dashboard,
    "stack-health.json": stack_health.dashboard,
    "infrastructure.json": infrastructure.dashboard,
    "business.json": business.dashboard,
    "frontend.json": frontend.dashboard,
}
KIBANA_FILE = "observatory-logs.ndjson"
# the generated folders, and the files in them a provisioning step reads (and so must be generated)
GENERATED = {"grafana": "*.json", "kibana": "*.ndjson"}


def render() -> dict[str, str]:
    """Relative path (grafana/pipeline.json, kibana/observatory-logs.ndjson) -> the file's text."""
    out = {f"grafana/{name}": make().text() for name, make in GRAFANA.items()}
    out[f"kibana/{KIBANA_FILE}"] = kibana.ndjson()
    return out


def build(out_dir: Path = REPO_DASHBOARDS) -> list[Path]:
    """Write every generated file under `out_dir`; returns the paths written."""
    written = []
    for rel, text in render().items():
        path = out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written


def differences(out_dir: Path = REPO_DASHBOARDS) -> list[tuple[Path, str]]:
    """(path, what is wrong) for every file under `out_dir` that is not exactly the generator's output:
    "differs", "missing", or "not generated" (a dashboard file the generator does not write, which
    provisioning would still load). Empty when the folder is up to date."""
    expected = render()
    found = []
    for rel, text in expected.items():
        path = out_dir / rel
        if not path.is_file():
            found.append((path, "missing"))
        elif path.read_text() != text:
            found.append((path, "differs"))
    for folder, pattern in GENERATED.items():
        for path in sorted((out_dir / folder).glob(pattern)):
            if f"{folder}/{path.name}" not in expected:
                found.append((path, "not generated"))
    return found
