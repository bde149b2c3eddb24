"""Dashboards as code, checked statically: Grafana JSON (uids, ids, datasources, refresh, ranges,
thresholds, layout), the provisioning files, the Kibana saved objects and the Metabase definitions.
Whether the queries return data is tested live in tests/integration/dashboards/."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.integration.dashboards.panels import (
    KIBANA_DIR,
    METABASE_DIR,
    all_panels,
    dashboards,
    metabase_questions,
    provisioned_datasource_uids,
    queries,
)

REPO = Path(__file__).resolve().parents[2]
PROVISIONING = REPO / "config" / "grafana" / "provisioning"
EXPECTED = {
    "Observatory / Pipeline",
    "Observatory / Business KPIs",
    "Observatory / SLOs",
    "Observatory / Infrastructure",
    "Observatory / Stack health",
    "Observatory / Frontend",
}
DASHBOARDS = dashboards()


def test_the_five_dashboards_exist():
    assert {d["title"] for d in DASHBOARDS.values()} == EXPECTED


def test_every_dashboard_links_the_web_console_on_the_forecasters_published_port():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    assert any(p.endswith(":8091") for p in compose["services"]["forecaster"]["ports"])
    for name, d in DASHBOARDS.items():
        urls = [link.get("url") for link in d["links"] if link["type"] == "link"]
        assert "http://localhost:8091/console/" in urls, name


def test_uids_unique_and_ids_null():
    uids = [d["uid"] for d in DASHBOARDS.values()]
    assert len(uids) == len(set(uids)) and all(re.fullmatch(r"[a-z0-9-]{1,40}", u) for u in uids)
    for name, d in DASHBOARDS.items():
        assert d["id"] is None, f"{name}: id must be null for provisioning"
        ids = [p["id"] for p in all_panels(d)]
        assert len(ids) == len(set(ids)), f"{name}: duplicate panel ids"


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_refresh_range_and_layout(name):
    d = DASHBOARDS[name]
    assert re.fullmatch(r"\d+[smh]", d["refresh"]), f"{name}: no auto-refresh"
    assert d["time"]["from"].startswith("now-") and d["time"]["to"] == "now"
    assert d["editable"] is False
    for p in all_panels(d):
        g = p["gridPos"]
        assert g["x"] + g["w"] <= 24 and g["w"] > 0 and g["h"] > 0, f"{name}/{p['title']}: gridPos {g}"
        if p["type"] == "row":
            continue
        assert p.get("title"), f"{name}: a panel without a title"
        assert p.get("targets"), f"{name}/{p['title']}: no query"
        if p["type"] == "stat":
            steps = p["fieldConfig"]["defaults"]["thresholds"]["steps"]
            assert steps and steps[0]["value"] is None


def test_stat_panels_with_a_good_and_bad_direction_colour_it():
    coloured = [
        p
        for d in DASHBOARDS.values()
        for p in all_panels(d)
        if p["type"] == "stat" and len(p["fieldConfig"]["defaults"]["thresholds"]["steps"]) > 1
    ]
    assert len(coloured) >= 15
    for p in coloured:
        assert p["options"]["colorMode"] == "background", p["title"]


def test_every_datasource_uid_is_provisioned():
    provisioned = provisioned_datasource_uids()
    assert provisioned == {"prometheus", "alertmanager", "jaeger", "elasticsearch", "clickhouse"}
    for name, d in DASHBOARDS.items():
        for p in all_panels(d):
            for ref in [p.get("datasource")] + [t.get("datasource") for t in p.get("targets", [])]:
                if ref:
                    assert ref["uid"] in provisioned or ref["uid"] == "-- Grafana --", (
                        f"{name}/{p['title']}: datasource uid {ref['uid']!r} is not provisioned"
                    )


def test_datasource_provisioning_file():
    doc = yaml.safe_load((PROVISIONING / "datasources" / "datasources.yml").read_text())
    by_uid = {d["uid"]: d for d in doc["datasources"]}
    assert by_uid["clickhouse"]["type"] == "grafana-clickhouse-datasource"
    assert by_uid["clickhouse"]["jsonData"]["username"] == "analyst"
    assert by_uid["clickhouse"]["secureJsonData"]["password"] == "$CLICKHOUSE_ANALYST_PASSWORD"
    assert by_uid["elasticsearch"]["secureJsonData"]["basicAuthPassword"] == "$LOGS_READER_PASSWORD"
    assert by_uid["prometheus"]["jsonData"]["exemplarTraceIdDestinations"][0]["datasourceUid"] == "jaeger"
    assert sum(1 for d in doc["datasources"] if d.get("isDefault")) == 1
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    env = compose["services"]["grafana"]["environment"]
    for var in ("CLICKHOUSE_ANALYST_PASSWORD", "LOGS_READER_PASSWORD"):
        assert var in env, f"Grafana's container lacks {var}, which the datasources file reads"
    assert env["GF_PLUGINS_PREINSTALL"].startswith("grafana-clickhouse-datasource@")


def test_one_provider_per_folder_pointing_at_the_mounted_dashboards():
    providers = [
        p for f in (PROVISIONING / "dashboards").glob("*.yml") for p in yaml.safe_load(f.read_text())["providers"]
    ]
    folders = [p["folder"] for p in providers]
    assert len(folders) == len(set(folders)), "two providers share a folder"
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    mounts = {v.split(":")[1]: v.split(":")[0] for v in compose["services"]["grafana"]["volumes"]}
    for p in providers:
        source = mounts.get(p["options"]["path"])
        assert source == "./dashboards/grafana", f"provider {p['name']} reads {p['options']['path']}, not mounted"
    home = compose["services"]["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert (REPO / "dashboards/grafana" / Path(home).name).exists()


def test_prometheus_queries_use_known_metrics():
    """Every metric a panel names is exported by an Observatory service (observatory.metrics), by the
    RabbitMQ plugin, or by a component of the Docker stack."""
    from prometheus_client import CollectorRegistry

    from observatory.ingest.frontend import FrontendObserver
    from observatory.metrics import ConsumerMetrics, ForecasterMetrics, IngestMetrics, new_registry

    registry = new_registry("x", "0")
    IngestMetrics.create(registry)
    FrontendObserver(registry, ["/"], 1)
    ConsumerMetrics.create(registry)
    forecaster = new_registry("f", "0")
    ForecasterMetrics.create(forecaster)
    ours = set()
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"], "info": ["_info"]}
    for family in [*registry.collect(), *forecaster.collect()]:
        ours |= {family.name + s for s in suffixes.get(family.type, [""])}
    assert isinstance(registry, CollectorRegistry)
    external = re.compile(
        r"^(rabbitmq_|node_|container_|ClickHouse|prometheus_|alertmanager_|otelcol_|up$|"
        r"scrape_duration_seconds$)"
    )
    functions = {
        "sum",
        "rate",
        "increase",
        "max",
        "min",
        "avg",
        "count",
        "histogram_quantile",
        "clamp_min",
        "vector",
        "time",
        "by",
        "or",
        "on",
        "and",
        "le",
        "without",
        "abs",
    }
    for q in queries("prometheus"):
        names = set(re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{|\[|\)|$| )", re.sub(r'"[^"]*"', "", q.text)))
        for name in names - functions:
            if name.isupper() or name in (
                "mode",
                "code",
                "route",
                "queue",
                "reason",
                "source",
                "job",
                "cpu",
                "integration",
                "container_label_com_docker_compose_service",
                "metric",
                "page",
                "type",
            ):
                continue
            if re.match(r"^\d", name) or name.startswith("$"):
                continue
            assert name in ours or external.match(name), f"{q.key}: unknown metric {name}"


def test_every_metric_source_of_the_panels_is_scraped_in_compose():
    """A panel on an exporter's metrics shows "No data" unless config/prometheus/prometheus.yml scrapes
    that exporter: each metric family prefix must map to a scrape job whose target is a compose service."""
    source = {
        "node_": "node-exporter",
        "container_": "cadvisor",
        "ClickHouse": "clickhouse",
        "alertmanager_": "alertmanager",
        "prometheus_": "prometheus",
        "rabbitmq_": "rabbitmq",
        "ingest_": "ingest",
        "frontend_": "ingest",
        "consumer_": "consumer",
        "forecaster_": "forecaster",
        "otelcol_": "jaeger",
    }
    prom = yaml.safe_load((REPO / "config/prometheus/prometheus.yml").read_text())
    jobs = {
        j["job_name"]: [t for sc in j.get("static_configs", []) for t in sc["targets"]] for j in prom["scrape_configs"]
    }
    services = set(yaml.safe_load((REPO / "docker-compose.yml").read_text())["services"])
    used = set()
    for q in queries("prometheus"):
        for prefix in source:
            if re.search(rf"\b{prefix}", q.text):
                used.add(prefix)
    assert {"node_", "container_", "ClickHouse", "rabbitmq_", "ingest_", "consumer_"} <= used
    for prefix in used:
        job = source[prefix]
        assert job in jobs, f"panels use {prefix}* but prometheus.yml has no `{job}` job"
        for target in jobs[job]:
            host = target.split(":")[0]
            # host.docker.internal: node-exporter in the host's network (tests/config/test_compose.py checks it)
            assert host in services or host in ("localhost", "host.docker.internal"), (
                f"job {job} scrapes {target}, not a compose service"
            )


def test_clickhouse_panels_read_deduplicated_data_in_the_dashboard_range():
    for q in queries("clickhouse"):
        assert re.search(r"observatory\.(events|forecasts|churn_scores) FINAL", q.text), (
            f"{q.key}: read with FINAL (redeliveries)"
        )
        snapshot = (
            "observatory.churn_scores FINAL" in q.text and "$__toTime" in q.text
        )  # newest scoring up to the range end
        assert snapshot or "$__timeFilter(" in q.text or ("$__fromTime" in q.text and "$__toTime" in q.text), (
            f"{q.key}: ignores the dashboard's time range"
        )


def test_panels_built_from_the_analytics_sql_are_current():
    """Panels generated from services/observatory/store/queries/*.sql carry their source; the SQL in
    the dashboard must still be what that file renders to (`observatory dashboards build` after a query changes)."""
    from observatory.setup.analytics_sql import for_grafana

    sourced = 0
    for name, d in DASHBOARDS.items():
        for p in all_panels(d):
            for t in p.get("targets", []):
                source = t.get("observatorySource")
                if source:
                    sourced += 1
                    assert for_grafana(source["query"], **source["params"]) in t["rawSql"], (
                        f"{name}/{p['title']}: stale copy of {source['query']}.sql: run `observatory dashboards build`"
                    )
    assert sourced >= 10


# --- Kibana -------------------------------------------------------------------------------------------
def kibana_objects() -> list[dict]:
    objs = []
    for path in sorted(KIBANA_DIR.glob("*.ndjson")):
        for n, line in enumerate(path.read_text().splitlines(), start=1):
            assert line.strip(), f"{path.name}:{n}: empty line"
            objs.append(json.loads(line))
    return objs


def test_kibana_saved_objects():
    objs = kibana_objects()
    ids = [(o["type"], o["id"]) for o in objs]
    assert len(ids) == len(set(ids))
    types = {o["type"] for o in objs}
    assert {"search", "lens", "dashboard"} <= types
    searches = {o["attributes"]["title"] for o in objs if o["type"] == "search"}
    assert {"Observatory: errors", "Observatory: logs by service", "Observatory: logs by trace id"} <= searches
    known = set(ids)
    from observatory.setup.config import SetupSettings

    data_view = SetupSettings.model_fields["kibana_data_view_id"].default
    for o in objs:
        assert o["attributes"].get("title"), o["id"]
        for ref in o.get("references", []):
            if ref["type"] == "index-pattern":
                assert ref["id"] == data_view, f"{o['id']}: references data view {ref['id']}"
            else:
                assert (ref["type"], ref["id"]) in known, f"{o['id']}: dangling reference {ref}"
        meta = o["attributes"].get("kibanaSavedObjectMeta", {}).get("searchSourceJSON")
        if meta:
            json.loads(meta)
    dash = next(o for o in objs if o["type"] == "dashboard")
    panels = json.loads(dash["attributes"]["panelsJSON"])
    assert len(panels) >= 5
    refs = {r["name"] for r in dash["references"]}
    for p in panels:
        assert f"{p['panelIndex']}:{p['panelRefName']}" in refs
        assert p["gridData"]["x"] + p["gridData"]["w"] <= 48
    lens = {o["attributes"]["title"] for o in objs if o["type"] == "lens"}
    assert {
        "Log volume by service",
        "Error rate (share of lines by level)",
        "Top services by log lines",
        "Top error messages",
    } <= lens


def test_kibana_fields_exist_in_the_index_template():
    template = json.loads((REPO / "config/elasticsearch/index-template.json").read_text())
    props = template["template"]["mappings"]["properties"]
    fields = set(props) | {f"{k}.{sub}" for k, v in props.items() for sub in v.get("fields", {})}
    for o in kibana_objects():
        if o["type"] == "search":
            for col in o["attributes"]["columns"]:
                assert col in fields, f"{o['id']}: column {col} is not mapped"
        if o["type"] == "lens":
            for col in o["attributes"]["state"]["datasourceStates"]["formBased"]["layers"]["layer1"][
                "columns"
            ].values():
                if col["sourceField"] != "___records___":
                    assert col["sourceField"] in fields, f"{o['id']}: {col['sourceField']} is not mapped"
    assert template["index_patterns"] == ["logs-observatory-*"] and template["priority"] > 200
    filebeat = yaml.safe_load((REPO / "config/filebeat/filebeat.yml").read_text())
    assert filebeat["output.elasticsearch"]["index"].startswith("logs-observatory-")


# --- Metabase -----------------------------------------------------------------------------------------
def test_metabase_definitions():
    from observatory.setup.metabase import GRID_WIDTH, layout, load_dashboards

    docs = load_dashboards(METABASE_DIR)
    assert {d["name"] for d in docs} == {"Business Metrics", "Product Analytics", "User Behavior"}
    names = [q["name"] for _, q in metabase_questions()]
    assert len(names) == len(set(names)), "question names must be unique (setup matches them by name)"
    for d in docs:
        for cell in layout(d["questions"]):
            assert cell["col"] + cell["size_x"] <= GRID_WIDTH
        for q in d["questions"]:
            assert re.search(r"observatory\.(events|churn_scores)\b", q["sql"]) and "FINAL" in q["sql"], q["name"]
            assert not re.search(r"\{[a-z_]+:[A-Za-z0-9()]+\}", q["sql"]), f"{q['name']}: unbound parameter"
            assert "$__" not in q["sql"] and "{{" not in q["sql"], f"{q['name']}: Grafana macro or template tag"


def dashboards_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "observatory.cli", "dashboards", "build", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def generated_files(folder: Path) -> dict[str, str]:
    """grafana/*.json and kibana/*.ndjson under `folder`, by relative path."""
    files = sorted(folder.glob("grafana/*.json")) + sorted(folder.glob("kibana/*.ndjson"))
    return {str(p.relative_to(folder)): p.read_text() for p in files}


def test_committed_dashboards_are_the_generators_output(tmp_path):
    """observatory.dashboards is the source: `observatory dashboards build` writes exactly the
    committed JSON and NDJSON (a hand edit, which the next regeneration would lose, fails here)."""
    r = dashboards_cli("--out", str(tmp_path))
    assert r.returncode == 0, r.stderr
    built, committed = generated_files(tmp_path), generated_files(REPO / "dashboards")
    assert sorted(built) == sorted(committed)
    assert len(committed) == 7, sorted(committed)  # six Grafana dashboards and the Kibana objects
    for rel, text in committed.items():
        assert built[rel] == text, f"dashboards/{rel} differs from `observatory dashboards build`'s output"


def test_dashboards_check_names_every_file_not_generated(tmp_path):
    """`--check` passes on the committed folder, writes nothing, and on a copy with a hand edit, a
    deleted file and an extra dashboard exits 1 naming each of the three."""
    ok = dashboards_cli("--check")
    assert ok.returncode == 0, ok.stderr
    assert "up to date" in ok.stdout
    for folder in ("grafana", "kibana"):
        shutil.copytree(REPO / "dashboards" / folder, tmp_path / folder)
    edited = tmp_path / "grafana" / "slos.json"
    edited.write_text(edited.read_text().replace('"refresh": "1m"', '"refresh": "5m"', 1))
    (tmp_path / "kibana" / "observatory-logs.ndjson").unlink()
    (tmp_path / "grafana" / "hand-made.json").write_text("{}\n")
    before = generated_files(tmp_path)
    r = dashboards_cli("--check", "--out", str(tmp_path))
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"{edited}: differs" in r.stderr
    assert f"{tmp_path / 'kibana' / 'observatory-logs.ndjson'}: missing" in r.stderr
    assert f"{tmp_path / 'grafana' / 'hand-made.json'}: not generated" in r.stderr
    assert "3 file(s)" in r.stderr
    assert generated_files(tmp_path) == before, "--check must not write"
