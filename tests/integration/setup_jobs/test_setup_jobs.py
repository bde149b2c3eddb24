"""The setup jobs (`observatory setup elasticsearch|kibana|grafana|metabase`) against local servers
that check each request against the documented APIs, including a target that refuses connections
and then answers 503 while it starts. Each job also runs twice: the second run must not create
anything new (idempotent provisioning)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml
from pydantic import SecretStr

from observatory.setup.config import SetupSettings
from observatory.setup.http import SetupError
from tests.integration.dashboards.panels import (
    DATASOURCES_FILE,
    GRAFANA_DIR,
    KIBANA_DIR,
    METABASE_DIR,
    metabase_questions,
    provisioned_datasource_uids,
)
from tests.integration.setup_jobs.fakes import FakeServer, Reject, multipart_files, require, require_basic, require_json

ELASTIC_PW, KIBANA_SYSTEM_PW, FILEBEAT_PW, READER_PW = "elasticPw1", "kibanaSysPw2", "filebeatPw3", "readerPw4"
GRAFANA_PW, METABASE_PW, CH_PW = "grafanaPw5", "metabasePw6x", "analystPw7"


def settings(**urls) -> SetupSettings:
    return SetupSettings(
        elastic_password=SecretStr(ELASTIC_PW),
        kibana_system_password=SecretStr(KIBANA_SYSTEM_PW),
        filebeat_password=SecretStr(FILEBEAT_PW),
        logs_reader_password=SecretStr(READER_PW),
        grafana_password=SecretStr(GRAFANA_PW),
        metabase_admin_password=SecretStr(METABASE_PW),
        clickhouse_password=SecretStr(CH_PW),
        timeout_s=30,
        interval_s=0.2,
        request_timeout_s=5,
        **urls,
    )


@pytest.fixture
def serve():
    started = []

    def start(server: FakeServer) -> FakeServer:
        started.append(server.start())
        return server

    yield start
    for s in started:
        s.stop()


# --- Elasticsearch ---------------------------------------------------------------------------------
def fake_elasticsearch() -> FakeServer:
    # the official client refuses servers that do not identify as Elasticsearch
    es = FakeServer(
        "elasticsearch", refuse_for_s=0.6, unavailable_first=2, extra_headers={"X-Elastic-Product": "Elasticsearch"}
    )
    state = {"streams": set(), "roles": {}, "users": {}, "policies": {}, "templates": {}}
    es.state = state

    def common(req):
        require_basic(req, "elastic", ELASTIC_PW)
        accept = req.header("accept") or ""
        require("compatible-with=9" in accept, f"client not in 9.x compatibility mode: Accept {accept!r}")

    @es.route("GET", "/_cluster/health")
    def health(req, m):
        common(req)
        require(req.query.get("wait_for_status") == ["yellow"], "expected wait_for_status=yellow")
        return 200, {"cluster_name": "observatory", "status": "yellow"}

    @es.route("(POST|PUT)", r"/_security/user/kibana_system/_password")
    def kibana_password(req, m):
        common(req)
        require(require_json(req) == {"password": KIBANA_SYSTEM_PW}, "body must be {password}")
        state["kibana_system"] = KIBANA_SYSTEM_PW
        return 200, {}

    @es.route("PUT", r"/_security/role/(?P<name>[\w-]+)")
    def role(req, m):
        common(req)
        body = require_json(req)
        require(set(body) == {"cluster", "indices"}, f"role body keys {sorted(body)}")
        for entry in body["indices"]:
            require(set(entry) == {"names", "privileges"}, "indices entries need names and privileges")
        state["roles"][m["name"]] = body
        return 200, {"role": {"created": True}}

    @es.route("PUT", r"/_security/user/(?P<name>[\w-]+)")
    def user(req, m):
        common(req)
        body = require_json(req)
        require(
            isinstance(body.get("password"), str) and isinstance(body.get("roles"), list), "user needs password, roles"
        )
        for r in body["roles"]:
            require(r in state["roles"], f"role {r} does not exist yet", 400)
        state["users"][m["name"]] = body
        return 200, {"created": True}

    @es.route("PUT", r"/_ilm/policy/(?P<name>[\w-]+)")
    def policy(req, m):
        common(req)
        body = require_json(req)
        require(list(body) == ["policy"] and "phases" in body["policy"], "ILM body must be {policy: {phases}}")
        state["policies"][m["name"]] = body["policy"]
        return 200, {"acknowledged": True}

    @es.route("PUT", r"/_index_template/(?P<name>[\w-]+)")
    def template(req, m):
        common(req)
        body = require_json(req)
        require({"index_patterns", "data_stream", "priority", "template"} <= set(body), f"template keys {sorted(body)}")
        policy_name = body["template"]["settings"]["index.lifecycle.name"]
        require(policy_name in state["policies"], f"template names ILM policy {policy_name} before it exists")
        state["templates"][m["name"]] = body
        return 200, {"acknowledged": True}

    @es.route("PUT", r"/_data_stream/(?P<name>[\w.-]+)")
    def stream(req, m):
        common(req)
        name = m["name"]
        require(
            any(p.rstrip("*") in name for t in state["templates"].values() for p in t["index_patterns"]),
            f"no template with a data stream matches {name}",
        )
        if name in state["streams"]:
            return 400, {
                "error": {
                    "type": "resource_already_exists_exception",
                    "reason": f"data_stream [{name}] already exists",
                },
                "status": 400,
            }
        state["streams"].add(name)
        return 200, {"acknowledged": True}

    return es


def test_elasticsearch_setup(serve):
    from observatory.setup import elasticsearch

    es = serve(fake_elasticsearch())
    s = settings(elasticsearch_url=es.url)
    elasticsearch.run(s)
    elasticsearch.run(s)  # idempotent: the data stream exists the second time
    assert not es.violations, es.violations
    assert es.calls("GET", "/_cluster/health"), "never waited for the cluster"
    assert es.state["kibana_system"] == KIBANA_SYSTEM_PW
    assert es.state["users"]["filebeat_writer"]["roles"] == ["observatory_logs_writer"]
    assert es.state["users"]["filebeat_writer"]["password"] == FILEBEAT_PW
    assert es.state["users"]["logs_reader"]["roles"] == ["observatory_logs_reader"]
    policy = es.state["policies"]["observatory-logs"]
    assert policy["phases"]["delete"]["min_age"] == "30d"
    assert "rollover" in policy["phases"]["hot"]["actions"]
    tpl = es.state["templates"]["observatory-logs"]
    assert tpl["index_patterns"] == ["logs-observatory-*"] and tpl["priority"] > 200 and tpl["data_stream"] == {}
    assert es.state["streams"] == {"logs-observatory-default"}


def test_elasticsearch_setup_names_the_target_when_it_never_comes_up():
    from observatory.setup import elasticsearch

    s = settings(elasticsearch_url="http://127.0.0.1:9")
    s.timeout_s = 1.0
    with pytest.raises(SetupError, match=r"waiting for Elasticsearch at http://127.0.0.1:9"):
        elasticsearch.run(s)


def test_elasticsearch_setup_reports_a_wrong_password(serve):
    from observatory.setup import elasticsearch

    es = serve(fake_elasticsearch())
    s = settings(elasticsearch_url=es.url)
    s.elastic_password = SecretStr("wrong")
    with pytest.raises(SetupError, match="refused the elastic user"):
        elasticsearch.run(s)


# --- Kibana ----------------------------------------------------------------------------------------
def fake_kibana() -> FakeServer:
    kb = FakeServer("kibana", refuse_for_s=0.5, unavailable_first=2)
    kb.imported, kb.data_views = [], {}

    def common(req, writes=True):
        require_basic(req, "elastic", ELASTIC_PW)
        if writes:
            require(req.header("kbn-xsrf") is not None, "state-changing call without the kbn-xsrf header")

    @kb.route("GET", "/api/status")
    def status(req, m):
        common(req, writes=False)
        return 200, {"status": {"overall": {"level": "available"}}}

    @kb.route("POST", "/api/data_views/data_view")
    def data_view(req, m):
        common(req)
        body = require_json(req)
        dv = body.get("data_view") or {}
        require({"title", "timeFieldName"} <= set(dv), f"data_view needs title and timeFieldName, got {sorted(dv)}")
        if dv.get("id") in kb.data_views and not body.get("override"):
            raise Reject(400, "duplicate data view without override")
        kb.data_views[dv["id"]] = dv
        return 200, {"data_view": dv}

    @kb.route("POST", "/api/saved_objects/_import")
    def import_(req, m):
        common(req)
        require(req.query.get("overwrite") == ["true"], "import without overwrite=true would duplicate objects")
        require("createNewCopies" not in req.query, "createNewCopies cannot be combined with overwrite")
        files = multipart_files(req)
        require(set(files) == {"file"}, f"multipart fields {sorted(files)}: expected `file`")
        filename, content = files["file"]
        require(filename.endswith(".ndjson"), f"file name {filename!r} must end in .ndjson")
        objs = [json.loads(line) for line in content.decode().splitlines() if line.strip()]
        for o in objs:
            require({"type", "id", "attributes"} <= set(o), f"object without type/id/attributes: {sorted(o)}")
            for ref in o.get("references", []):
                if ref["type"] == "index-pattern":
                    require(ref["id"] in kb.data_views, f"{o['id']} references data view {ref['id']} not created first")
        kb.imported.append(objs)
        return 200, {"success": True, "successCount": len(objs), "successResults": []}

    return kb


def test_kibana_setup(serve):
    from observatory.setup import kibana

    kb = serve(fake_kibana())
    s = settings(kibana_url=kb.url)
    kibana.run(s)
    kibana.run(s)
    assert not kb.violations, kb.violations
    assert kb.data_views == {
        "observatory-logs": {"id": "observatory-logs", "title": "logs-*", "name": "Logs", "timeFieldName": "@timestamp"}
    }
    committed = [json.loads(line) for p in sorted(KIBANA_DIR.glob("*.ndjson")) for line in p.read_text().splitlines()]
    assert kb.imported == [committed, committed]
    assert {o["type"] for o in committed} >= {"search", "lens", "dashboard"}


def test_kibana_import_errors_fail_the_job(serve):
    from observatory.setup import kibana

    kb = FakeServer("kibana")

    @kb.route("GET", "/api/status")
    def status(req, m):
        return 200, {"status": {"overall": {"level": "available"}}}

    @kb.route("POST", "/api/data_views/data_view")
    def data_view(req, m):
        return 200, {"data_view": {}}

    @kb.route("POST", "/api/saved_objects/_import")
    def import_(req, m):
        return 200, {
            "success": False,
            "successCount": 0,
            "errors": [{"type": "lens", "id": "obs-logs-volume", "error": {"type": "missing_references"}}],
        }

    serve(kb)
    with pytest.raises(SetupError, match="lens/obs-logs-volume: missing_references"):
        kibana.run(settings(kibana_url=kb.url))


# --- Grafana ---------------------------------------------------------------------------------------
def fake_grafana() -> FakeServer:
    gf = FakeServer("grafana", refuse_for_s=0.4, unavailable_first=1)
    uids = {json.loads(p.read_text())["uid"] for p in GRAFANA_DIR.glob("*.json")}
    gf.preferences, gf.dash_lookups = {}, {}

    @gf.route("GET", "/api/health")
    def health(req, m):
        return 200, {"database": "ok", "version": "13.2.1"}

    @gf.route("GET", r"/api/datasources/uid/(?P<uid>[\w-]+)")
    def ds(req, m):
        require_basic(req, "admin", GRAFANA_PW)
        if m["uid"] not in provisioned_datasource_uids():
            return 404, {"message": "Data source not found"}
        return 200, {"uid": m["uid"], "readOnly": True}

    # the provisioned datasources' plugins: the ClickHouse one arrives after a few look-ups (installed in
    # the background after Grafana started), unless the test makes Grafana offline
    gf.offline, gf.plugin_lookups = False, 0
    plugin_types = {d["type"] for d in yaml.safe_load(DATASOURCES_FILE.read_text())["datasources"]}

    @gf.route("GET", r"/api/plugins/(?P<plugin>[\w-]+)/settings")
    def plugin(req, m):
        require_basic(req, "admin", GRAFANA_PW)
        gf.plugin_lookups += 1
        if m["plugin"] not in plugin_types:
            return 404, {"message": "Plugin not found"}
        if m["plugin"] == "grafana-clickhouse-datasource" and (gf.offline or gf.plugin_lookups < 8):
            return 404, {"message": "Plugin not found, no installed plugin with that id"}
        return 200, {"id": m["plugin"], "enabled": True}

    @gf.route("GET", r"/api/datasources/uid/(?P<uid>[\w-]+)/health")
    def ds_health(req, m):
        require_basic(req, "admin", GRAFANA_PW)
        if m["uid"] == "jaeger":  # no traces yet: the job reports it and goes on
            return 400, {"status": "ERROR", "message": "no services"}
        return 200, {"status": "OK", "message": "Data source is working"}

    @gf.route("GET", r"/api/dashboards/uid/(?P<uid>[\w-]+)")
    def dash(req, m):
        require_basic(req, "admin", GRAFANA_PW)
        # the file provider has not scanned yet on the first look-up of each dashboard
        gf.dash_lookups[m["uid"]] = gf.dash_lookups.get(m["uid"], 0) + 1
        if m["uid"] not in uids or gf.dash_lookups[m["uid"]] == 1:
            return 404, {"message": "Dashboard not found"}
        return 200, {"dashboard": {"uid": m["uid"]}, "meta": {"provisioned": True}}

    @gf.route("PUT", "/api/org/preferences")
    def prefs(req, m):
        require_basic(req, "admin", GRAFANA_PW)
        body = require_json(req)
        require(set(body) == {"homeDashboardUID"}, f"preferences body {body}")
        require(body["homeDashboardUID"] in uids, "home dashboard uid is not a provisioned dashboard")
        gf.preferences.update(body)
        return 200, {"message": "Preferences updated"}

    return gf


def test_grafana_setup(serve):
    from observatory.setup import grafana

    gf = serve(fake_grafana())
    health = grafana.run(settings(grafana_url=gf.url))
    assert not gf.violations, gf.violations
    assert gf.preferences == {"homeDashboardUID": "observatory-pipeline"}
    assert health == {
        "prometheus": True,
        "alertmanager": True,
        "jaeger": False,
        "elasticsearch": True,
        "clickhouse": True,
    }
    assert set(gf.dash_lookups) == {json.loads(p.read_text())["uid"] for p in GRAFANA_DIR.glob("*.json")}


def test_grafana_setup_fails_when_a_datasource_is_not_provisioned(serve):
    from observatory.setup import grafana

    gf = fake_grafana()

    @gf.route("GET", r"/api/datasources/uid/clickhouse")
    def missing(req, m):
        return 404, {"message": "Data source not found"}

    gf.routes.insert(0, gf.routes.pop())  # before the generic route
    serve(gf)
    with pytest.raises(SetupError, match=r"lacks provisioned datasources \['clickhouse'\]"):
        grafana.run(settings(grafana_url=gf.url))


def test_grafana_setup_fails_loudly_when_a_datasource_plugin_never_arrives(serve):
    """Offline: Grafana started (the plugin install runs in the background) but the ClickHouse plugin
    cannot be downloaded. The job waits its bounded time, then fails naming the plugin and the fix."""
    from observatory.setup import grafana

    gf = fake_grafana()
    gf.offline = True
    serve(gf)
    s = settings(grafana_url=gf.url)
    s.grafana_plugin_wait_s = 2
    with pytest.raises(
        SetupError,
        match=r"no plugin for provisioned datasources "
        r"\{'clickhouse': 'grafana-clickhouse-datasource'\}.*without internet",
    ):
        grafana.run(s)
    assert not gf.preferences, "nothing is changed after the failure"


def test_grafana_job_knows_every_provisioned_datasource_and_its_plugin():
    from observatory.setup import grafana

    provisioned = {d["uid"]: d["type"] for d in yaml.safe_load(DATASOURCES_FILE.read_text())["datasources"]}
    assert grafana.DATASOURCE_PLUGINS == provisioned


# --- Metabase --------------------------------------------------------------------------------------
def fake_metabase() -> FakeServer:
    mb = FakeServer("metabase", refuse_for_s=0.5, unavailable_first=2)
    st = mb.state = {
        "admin": None,
        "sessions": set(),
        "databases": {},
        "collections": {},
        "cards": {},
        "dashboards": {},
        "next": 10,
        "logins": 0,
        "setup_503": 1,
    }

    def next_id():
        st["next"] += 1
        return st["next"]

    def session(req):
        require(req.header("x-metabase-session") in st["sessions"], "missing or unknown X-Metabase-Session", 401)

    @mb.route("GET", "/api/health")
    def health(req, m):
        return 200, {"status": "ok"}

    @mb.route("GET", "/api/session/properties")
    def props(req, m):
        if st["admin"] is None:
            return 200, {"has-user-setup": False, "setup-token": "setup-token-1"}
        return 200, {"has-user-setup": True, "setup-token": None}

    @mb.route("POST", "/api/setup")
    def setup(req, m):
        if st["setup_503"]:  # healthy, but the app database is still migrating: the call is retried
            st["setup_503"] -= 1
            return 503, {"message": "Metabase is still initializing"}
        body = require_json(req)
        require(st["admin"] is None, "setup called twice")
        require(body.get("token") == "setup-token-1", "wrong setup token")
        user = body.get("user") or {}
        require({"first_name", "last_name", "email", "password"} <= set(user), f"user fields {sorted(user)}")
        require(len(user["password"]) >= 8 and any(c.isdigit() for c in user["password"]), "weak password")
        require(isinstance(body.get("prefs"), dict) and body["prefs"].get("site_name"), "prefs.site_name missing")
        st["admin"] = (user["email"], user["password"])
        sid = f"session-{next_id()}"
        st["sessions"].add(sid)
        return 200, {"id": sid}

    @mb.route("POST", "/api/session")
    def login(req, m):
        body = require_json(req)
        require((body.get("username"), body.get("password")) == st["admin"], "bad credentials", 401)
        sid = f"session-{next_id()}"
        st["sessions"].add(sid)
        st["logins"] += 1
        return 200, {"id": sid}

    @mb.route("GET", "/api/database")
    def databases(req, m):
        session(req)
        return 200, {"data": list(st["databases"].values()), "total": len(st["databases"])}

    def check_details(details):
        require({"host", "port", "user", "password", "dbname"} <= set(details), f"details {sorted(details)}")
        require(
            details["port"] == 8123 and details["user"] == "analyst" and details["password"] == CH_PW,
            "ClickHouse connection must use the HTTP port and the analyst user",
        )

    @mb.route("POST", "/api/database")
    def add_db(req, m):
        session(req)
        body = require_json(req)
        require(
            body.get("engine") == "clickhouse", f"engine {body.get('engine')!r}: the bundled driver is `clickhouse`"
        )
        check_details(body["details"])
        db = {"id": next_id(), "name": body["name"], "engine": "clickhouse", "details": body["details"]}
        st["databases"][db["id"]] = db
        return 200, db

    @mb.route("PUT", r"/api/database/(?P<id>\d+)")
    def update_db(req, m):
        session(req)
        check_details(require_json(req)["details"])
        return 200, st["databases"][int(m["id"])]

    @mb.route("GET", "/api/collection")
    def collections(req, m):
        session(req)
        return 200, [{"id": "root", "name": "Our analytics"}] + list(st["collections"].values())

    @mb.route("POST", "/api/collection")
    def add_collection(req, m):
        session(req)
        body = require_json(req)
        require(body.get("name"), "collection needs a name")
        c = {"id": next_id(), "name": body["name"], "archived": False}
        st["collections"][c["id"]] = c
        return 200, c

    @mb.route("GET", r"/api/collection/(?P<id>\d+)/items")
    def items(req, m):
        session(req)
        cid = int(m["id"])
        models = req.query.get("models", [])
        require(set(models) == {"card", "dashboard"}, f"models {models}")
        data = [
            {"id": c["id"], "name": c["name"], "model": "card"}
            for c in st["cards"].values()
            if c["collection_id"] == cid
        ]
        data += [
            {"id": d["id"], "name": d["name"], "model": "dashboard"}
            for d in st["dashboards"].values()
            if d["collection_id"] == cid
        ]
        return 200, {"data": data, "total": len(data)}

    def check_card(body):
        require(
            {"name", "display", "visualization_settings", "dataset_query", "collection_id"} <= set(body),
            f"card fields {sorted(body)}",
        )
        q = body["dataset_query"]
        require(
            q.get("type") == "native" and q.get("database") in st["databases"],
            "dataset_query: native on a known database",
        )
        require(
            isinstance(q.get("native", {}).get("query"), str) and q["native"]["query"].strip(), "native.query missing"
        )
        require(body["collection_id"] in st["collections"], "card outside the collection")

    @mb.route("POST", "/api/card")
    def add_card(req, m):
        session(req)
        body = require_json(req)
        check_card(body)
        card = {**body, "id": next_id()}
        st["cards"][card["id"]] = card
        return 200, card

    @mb.route("PUT", r"/api/card/(?P<id>\d+)")
    def update_card(req, m):
        session(req)
        body = require_json(req)
        check_card(body)
        require(int(m["id"]) in st["cards"], "unknown card", 404)
        st["cards"][int(m["id"])].update(body)
        return 200, st["cards"][int(m["id"])]

    @mb.route("POST", "/api/dashboard")
    def add_dash(req, m):
        session(req)
        body = require_json(req)
        require(body.get("name") and body.get("collection_id") in st["collections"], "dashboard name/collection")
        d = {"id": next_id(), "name": body["name"], "collection_id": body["collection_id"], "dashcards": []}
        st["dashboards"][d["id"]] = d
        return 200, d

    @mb.route("PUT", r"/api/dashboard/(?P<id>\d+)")
    def update_dash(req, m):
        session(req)
        body = require_json(req)
        cards = body.get("dashcards")
        require(isinstance(cards, list) and cards, "PUT dashboard needs the complete dashcards array")
        for dc in cards:
            require({"id", "card_id", "row", "col", "size_x", "size_y"} <= set(dc), f"dashcard fields {sorted(dc)}")
            require(dc["id"] < 0, "new dashcards carry negative ids")
            require(dc["card_id"] in st["cards"], f"dashcard for unknown card {dc['card_id']}")
            require(dc["col"] + dc["size_x"] <= 24, "dashcard outside the 24-column grid")
        st["dashboards"][int(m["id"])]["dashcards"] = cards
        return 200, st["dashboards"][int(m["id"])]

    return mb


def test_metabase_setup(serve):
    from observatory.setup import metabase

    mb = serve(fake_metabase())
    s = settings(metabase_url=mb.url)
    first = metabase.run(s)
    snapshot = json.dumps(
        {k: v for k, v in mb.state.items() if k in ("databases", "collections", "cards", "dashboards")},
        sort_keys=True,
        default=list,
    )
    second = metabase.run(s)
    assert not mb.violations, mb.violations
    assert first == second and set(first) == {"Business Metrics", "Product Analytics", "User Behavior"}
    st = mb.state
    assert st["admin"] == ("admin@observatory.local", METABASE_PW) and st["logins"] == 1
    assert len(mb.calls("POST", "/api/setup")) == 2, "the 503 on /api/setup was not retried"
    assert len(st["databases"]) == 1 and len(st["collections"]) == 1
    questions = metabase_questions()
    assert sorted(c["name"] for c in st["cards"].values()) == sorted(q["name"] for _, q in questions)
    sql = {c["name"]: c["dataset_query"]["native"]["query"] for c in st["cards"].values()}
    for _, q in questions:
        assert sql[q["name"]] == q["sql"].strip()
    by_dash = {}
    for name, q in questions:
        by_dash.setdefault(name, []).append(q["name"])
    for d in st["dashboards"].values():
        assert [st["cards"][dc["card_id"]]["name"] for dc in d["dashcards"]] == by_dash[d["name"]]
    # the second run updated in place: same objects, nothing new
    again = json.dumps(
        {k: v for k, v in st.items() if k in ("databases", "collections", "cards", "dashboards")},
        sort_keys=True,
        default=list,
    )
    assert json.loads(again).keys() == json.loads(snapshot).keys()
    assert len(json.loads(again)["cards"]) == len(json.loads(snapshot)["cards"])
    assert len(json.loads(again)["dashboards"]) == len(json.loads(snapshot)["dashboards"])


def test_metabase_definitions_dir_must_not_be_empty(tmp_path):
    from observatory.setup import metabase

    (tmp_path / "metabase").mkdir()
    with pytest.raises(SetupError, match="no Metabase dashboards defined"):
        metabase.load_dashboards(tmp_path / "metabase")
    assert metabase.load_dashboards(METABASE_DIR)


# --- the CLI entry ---------------------------------------------------------------------------------
def test_cli_setup_all_runs_every_target_in_order(serve):
    es, kb, mb, gf = (serve(fake_elasticsearch()), serve(fake_kibana()), serve(fake_metabase()), serve(fake_grafana()))
    env = {
        "OBS_ENV": "test",
        "PATH": "/usr/bin:/bin",
        "OBS_SETUP_ELASTICSEARCH_URL": es.url,
        "OBS_SETUP_KIBANA_URL": kb.url,
        "OBS_SETUP_METABASE_URL": mb.url,
        "OBS_SETUP_GRAFANA_URL": gf.url,
        "OBS_SETUP_ELASTIC_PASSWORD": ELASTIC_PW,
        "OBS_SETUP_KIBANA_SYSTEM_PASSWORD": KIBANA_SYSTEM_PW,
        "OBS_SETUP_FILEBEAT_PASSWORD": FILEBEAT_PW,
        "OBS_SETUP_LOGS_READER_PASSWORD": READER_PW,
        "OBS_SETUP_GRAFANA_PASSWORD": GRAFANA_PW,
        "OBS_SETUP_METABASE_ADMIN_PASSWORD": METABASE_PW,
        "OBS_SETUP_CLICKHOUSE_PASSWORD": CH_PW,
        "OBS_SETUP_TIMEOUT_S": "30",
        "OBS_SETUP_INTERVAL_S": "0.2",
    }
    r = subprocess.run(
        [sys.executable, "-m", "observatory.cli", "setup", "all"], env=env, capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "setup all: done" in r.stdout
    for fake in (es, kb, mb, gf):
        assert not fake.violations, (fake.name, fake.violations)
        assert fake.requests, f"{fake.name} was never called"
    assert es.state["streams"] and kb.imported and mb.state["dashboards"] and gf.preferences


def test_cli_setup_fails_clearly_without_a_secret():
    env = {"OBS_ENV": "test", "PATH": "/usr/bin:/bin", "OBS_SETUP_ELASTIC_PASSWORD": ELASTIC_PW}
    r = subprocess.run(
        [sys.executable, "-m", "observatory.cli", "setup", "grafana"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 1
    assert "GRAFANA_ADMIN_PASSWORD is not set" in r.stderr
