"""Read the dashboards as code: Grafana panels with their queries, Metabase questions, and the
macro expansion Grafana's datasources apply before a query reaches the server."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[3]
GRAFANA_DIR = REPO / "dashboards" / "grafana"
METABASE_DIR = REPO / "dashboards" / "metabase"
KIBANA_DIR = REPO / "dashboards" / "kibana"
DATASOURCES_FILE = REPO / "config" / "grafana" / "provisioning" / "datasources" / "datasources.yml"


@dataclass(frozen=True)
class Query:
    dashboard: str  # file name
    panel: str  # panel title
    ref: str  # target refId
    datasource: str  # datasource uid
    text: str  # PromQL or SQL

    @property
    def key(self) -> str:
        return f"{self.dashboard} / {self.panel} / {self.ref}"


def dashboards() -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in sorted(GRAFANA_DIR.glob("*.json"))}


def all_panels(dash: dict) -> list[dict]:
    out = []
    for p in dash.get("panels", []):
        out.append(p)
        out.extend(p.get("panels", []))  # panels inside collapsed rows
    return out


def queries(datasource: str | None = None) -> list[Query]:
    found = []
    for name, dash in dashboards().items():
        for panel in all_panels(dash):
            for t in panel.get("targets", []):
                uid = (t.get("datasource") or panel.get("datasource") or {}).get("uid")
                text = t.get("expr") if "expr" in t else t.get("rawSql")
                if datasource is None or uid == datasource:
                    found.append(Query(name, panel["title"], t["refId"], uid, text))
    return found


def metabase_questions(database: str = "observatory") -> list[tuple[str, dict]]:
    """(dashboard name, question) with each question's SQL resolved as the setup job sends it."""
    from observatory.setup.metabase import load_dashboards

    return [(doc["name"], q) for doc in load_dashboards(METABASE_DIR, database) for q in doc["questions"]]


def provisioned_datasource_uids() -> set[str]:
    return {d["uid"] for d in yaml.safe_load(DATASOURCES_FILE.read_text())["datasources"]}


# --- Grafana macro expansion --------------------------------------------------------------------
PROM_MACROS = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h"}


def expand_promql(expr: str) -> str:
    for k, v in PROM_MACROS.items():
        expr = expr.replace(k, v)
    return expr


def expand_clickhouse(sql: str, start: datetime, end: datetime, database: str, interval_s: int = 3600) -> str:
    """The grafana-clickhouse-datasource macros used by the dashboards, as the plugin expands them,
    and the `observatory.` database renamed to the test's database."""
    f, t = int(start.replace(tzinfo=UTC).timestamp()), int(end.replace(tzinfo=UTC).timestamp())
    sql = re.sub(
        r"\$__timeFilter\(([^)]+)\)",
        lambda m: f"{m.group(1)} >= toDateTime({f}) AND {m.group(1)} <= toDateTime({t})",
        sql,
    )
    sql = re.sub(
        r"\$__timeInterval\(([^)]+)\)",
        lambda m: f"toStartOfInterval(toDateTime({m.group(1)}), INTERVAL {interval_s} second)",
        sql,
    )
    sql = sql.replace("$__fromTime", f"toDateTime({f})").replace("$__toTime", f"toDateTime({t})")
    sql = sql.replace("$__interval_s", str(interval_s))
    if "$__" in sql:
        raise AssertionError(f"unexpanded Grafana macro in: {sql}")
    return rename_database(sql, database)


def rename_database(sql: str, database: str) -> str:
    return re.sub(r"\bobservatory\.", f"{database}.", sql)
