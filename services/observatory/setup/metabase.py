"""Metabase through its API: first-run setup (admin user), the ClickHouse database (bundled
driver, engine `clickhouse`), an "Observatory" collection, and the questions and dashboards
defined in dashboards/metabase/*.yml (native SQL on the events table). Re-running updates the
questions in place (matched by name within the collection) and rewrites each dashboard's cards.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import yaml

from observatory.setup.config import SetupSettings, require
from observatory.setup.http import Api, SetupError, wait_for

log = logging.getLogger("observatory.setup.metabase")
DATABASE_NAME = "Observatory ClickHouse"
COLLECTION_NAME = "Observatory"
GRID_WIDTH = 24


def load_dashboards(directory: Path, database: str = "observatory") -> list[dict]:
    """The dashboard definitions: name, description, questions [{name, display, sql, ...}].

    A question gives either `sql` (native SQL on `observatory.*`) or `query: <name>` with optional
    `params` (days, granularity, limit, window_seconds): the analytics SQL of
    observatory/store/queries/<name>.sql over the trailing window."""
    from observatory.setup.analytics_sql import SqlTemplateError, for_metabase

    docs = []
    for path in sorted(directory.glob("*.yml")):
        doc = yaml.safe_load(path.read_text())
        if not isinstance(doc, dict) or not doc.get("name") or not doc.get("questions"):
            raise SetupError(f"{path}: needs `name` and a non-empty `questions` list")
        for q in doc["questions"]:
            if not q.get("name") or bool(q.get("sql")) == bool(q.get("query")):
                raise SetupError(f"{path}: every question needs `name` and one of `sql` or `query`")
            if q.get("query"):
                try:
                    q["sql"] = for_metabase(q["query"], database=database, **q.get("params", {}))
                except (KeyError, SqlTemplateError, TypeError) as exc:
                    raise SetupError(f"{path}: question {q['name']!r}: {exc}") from exc
            elif database != "observatory":
                q["sql"] = re.sub(r"\bobservatory\.", f"{database}.", q["sql"])
        docs.append(doc)
    if not docs:
        raise SetupError(f"no Metabase dashboards defined in {directory}")
    return docs


def layout(questions: list[dict]) -> list[dict]:
    """Place cards left to right on Metabase's 24-column grid; `width` (default 12) and `height`."""
    cards, row, col, row_height = [], 0, 0, 0
    for q in questions:
        w, h = int(q.get("width", 12)), int(q.get("height", 6))
        if col + w > GRID_WIDTH:
            row, col, row_height = row + row_height, 0, 0
        cards.append({"row": row, "col": col, "size_x": w, "size_y": h})
        col += w
        row_height = max(row_height, h)
    return cards


def _login(mb: Api, s: SetupSettings) -> str:
    email, password = s.metabase_admin_email, require(s.metabase_admin_password, "METABASE_ADMIN_PASSWORD")
    props = mb.json("GET", "/api/session/properties")
    if not props.get("has-user-setup"):
        token = props.get("setup-token")
        if not token:
            raise SetupError("Metabase reports no admin user and no setup token")
        answer = mb.json(
            "POST",
            "/api/setup",
            json={
                "token": token,
                "user": {
                    "first_name": "Observatory",
                    "last_name": "Admin",
                    "email": email,
                    "password": password,
                    "site_name": s.metabase_site_name,
                },
                "prefs": {"site_name": s.metabase_site_name, "site_locale": "en", "allow_tracking": False},
            },
        )
        log.info("metabase admin created", extra={"email": email})
        return answer["id"]
    answer = mb.json("POST", "/api/session", json={"username": email, "password": password})
    return answer["id"]


def _items(payload) -> list[dict]:
    """Metabase list endpoints answer either a list or {"data": [...]}."""
    return payload.get("data", []) if isinstance(payload, dict) else list(payload or [])


def _database(mb: Api, s: SetupSettings) -> int:
    details = {
        "host": s.clickhouse_host,
        "port": s.clickhouse_port,
        "user": s.clickhouse_user,
        "password": require(s.clickhouse_password, "CLICKHOUSE_ANALYST_PASSWORD"),
        "dbname": s.clickhouse_database,
        "ssl": False,
    }
    for db in _items(mb.json("GET", "/api/database")):
        if db.get("name") == DATABASE_NAME:
            mb.request("PUT", f"/api/database/{db['id']}", json={"details": details})
            return db["id"]
    created = mb.json(
        "POST",
        "/api/database",
        json={"engine": "clickhouse", "name": DATABASE_NAME, "details": details, "is_full_sync": True},
    )
    log.info("metabase database added", extra={"id": created["id"]})
    return created["id"]


def _collection(mb: Api) -> int:
    for c in _items(mb.json("GET", "/api/collection")):
        if c.get("name") == COLLECTION_NAME and not c.get("archived") and c.get("id") != "root":
            return c["id"]
    return mb.json(
        "POST",
        "/api/collection",
        json={"name": COLLECTION_NAME, "parent_id": None, "description": "Provisioned by `observatory setup metabase`"},
    )["id"]


def _card_body(q: dict, database: int, collection: int) -> dict:
    return {
        "name": q["name"],
        "description": q.get("description"),
        "display": q.get("display", "table"),
        "visualization_settings": q.get("visualization_settings", {}),
        "collection_id": collection,
        "dataset_query": {
            "database": database,
            "type": "native",
            "native": {"query": q["sql"].strip(), "template-tags": {}},
        },
    }


def run(s: SetupSettings) -> dict[str, int]:
    """Returns dashboard name -> id."""
    dashboards = load_dashboards(s.dashboards_dir / "metabase", s.clickhouse_database)
    with Api(
        "Metabase", s.metabase_url, timeout_s=s.request_timeout_s, retry_s=s.timeout_s, interval_s=s.interval_s
    ) as mb:
        wait_for(
            f"Metabase at {s.metabase_url} (/api/health ok)",
            lambda: (r := mb.client.get("/api/health")).status_code == 200 and r.json().get("status") == "ok",
            s.timeout_s,
            s.interval_s,
        )
        mb.client.headers["X-Metabase-Session"] = _login(mb, s)
        database = _database(mb, s)
        collection = _collection(mb)
        existing = {
            (i.get("model"), i.get("name")): i["id"]
            for i in _items(
                mb.json("GET", f"/api/collection/{collection}/items", params={"models": ["card", "dashboard"]})
            )
        }
        result = {}
        for dash in dashboards:
            card_ids = []
            for q in dash["questions"]:
                body = _card_body(q, database, collection)
                if ("card", q["name"]) in existing:
                    card_id = existing[("card", q["name"])]
                    mb.request("PUT", f"/api/card/{card_id}", json=body)
                else:
                    card_id = mb.json("POST", "/api/card", json=body)["id"]
                    existing[("card", q["name"])] = card_id
                card_ids.append(card_id)
            dash_id = existing.get(("dashboard", dash["name"]))
            if dash_id is None:
                dash_id = mb.json(
                    "POST",
                    "/api/dashboard",
                    json={"name": dash["name"], "description": dash.get("description"), "collection_id": collection},
                )["id"]
            dashcards = [
                {
                    "id": -(i + 1),
                    "card_id": card_id,
                    **pos,
                    "series": [],
                    "parameter_mappings": [],
                    "visualization_settings": {},
                }
                for i, (card_id, pos) in enumerate(zip(card_ids, layout(dash["questions"])))
            ]
            # the dashcards array is the complete desired state: negative ids are new, omitted ones are removed
            mb.request("PUT", f"/api/dashboard/{dash_id}", json={"dashcards": dashcards})
            result[dash["name"]] = dash_id
            log.info("metabase dashboard provisioned", extra={"dashboard": dash["name"], "cards": len(card_ids)})
        return result
