"""Panel and query builders shared by the Grafana dashboards: Prometheus and ClickHouse targets,
time series, stat, table and bar-gauge panels, thresholds, and the ClickHouse panels whose SQL is
one of the analytics queries (services/observatory/store/queries/*.sql, through
observatory.setup.analytics_sql) and say so (`observatorySource`, checked by tests/config)."""

from __future__ import annotations

from typing import Any

from observatory.dashboards.grafana import Panel
from observatory.setup.analytics_sql import for_grafana

PROM = {"type": "prometheus", "uid": "prometheus"}
CH = {"type": "grafana-clickhouse-datasource", "uid": "clickhouse"}
RI = "$__rate_interval"
EV = 'route="/v1/events"'

Steps = list[tuple[str, float | None]]  # (colour, lower bound); the first bound is None
Expr = str | tuple[str, str]  # a PromQL expression, or (expression, legend)

GREEN: Steps = [("green", None)]


def thresholds(steps: Steps) -> dict[str, Any]:
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for c, v in steps]}


def prom_targets(exprs: list[Expr]) -> list[dict[str, Any]]:
    out = []
    for i, e in enumerate(exprs):
        expr, legend = e if isinstance(e, tuple) else (e, "")
        out.append(
            {
                "datasource": PROM,
                "refId": chr(65 + i),
                "expr": expr,
                "legendFormat": legend or "__auto",
                "range": True,
                "instant": False,
                "editorMode": "code",
            }
        )
    return out


def ch_targets(sqls: list[str], fmt: int = 0) -> list[dict[str, Any]]:
    # format: 0 = time series, 1 = table (plugin v4 "format" enum)
    return [
        {
            "datasource": CH,
            "refId": chr(65 + i),
            "editorType": "sql",
            "format": fmt,
            "queryType": "timeseries" if fmt == 0 else "table",
            "rawSql": s.strip(),
            "pluginVersion": "4.20.0",
        }
        for i, s in enumerate(sqls)
    ]


def ts(
    title: str,
    exprs: list[Expr],
    unit: str = "short",
    desc: str = "",
    th: Steps | None = None,
    stack: bool = False,
    min0: bool = True,
) -> Panel:
    custom = {
        "drawStyle": "line",
        "lineWidth": 1,
        "fillOpacity": 10,
        "showPoints": "never",
        "spanNulls": True,
        "axisSoftMin": 0 if min0 else None,
        "stacking": {"mode": "normal" if stack else "none", "group": "A"},
        "thresholdsStyle": {"mode": "line" if th else "off"},
    }
    custom = {k: v for k, v in custom.items() if v is not None}
    return {
        "type": "timeseries",
        "title": title,
        "description": desc,
        "datasource": PROM,
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "custom": custom,
                "color": {"mode": "palette-classic"},
                "thresholds": thresholds(th or GREEN),
            },
            "overrides": [],
        },
        "options": {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        "targets": prom_targets(exprs),
    }


def stat(
    title: str,
    expr: str | None,
    unit: str = "short",
    th: Steps | None = None,
    desc: str = "",
    decimals: int | None = None,
    mappings: list[dict[str, Any]] | None = None,
    ds: dict[str, str] = PROM,
    sql: str | None = None,
) -> Panel:
    """A single value: PromQL `expr`, or ClickHouse `sql` (a table query) with `ds=CH`."""
    p: Panel = {
        "type": "stat",
        "title": title,
        "description": desc,
        "datasource": ds,
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "color": {"mode": "thresholds"},
                "thresholds": thresholds(th or GREEN),
                "mappings": mappings or [],
            },
            "overrides": [],
        },
        "options": {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "background" if th else "value",
            "graphMode": "area",
            "justifyMode": "auto",
            "textMode": "auto",
            "orientation": "auto",
        },
    }
    if decimals is not None:
        p["fieldConfig"]["defaults"]["decimals"] = decimals
    if sql is not None:
        p["targets"] = ch_targets([sql], fmt=1)
    else:
        assert expr is not None, f"{title}: a stat panel needs a PromQL expression or SQL"
        p["targets"] = prom_targets([expr])
    return p


def ch_ts(
    title: str, sqls: list[str], unit: str = "short", desc: str = "", bars: bool = False, stack: bool = False
) -> Panel:
    p = ts(title, [], unit, desc)
    p["datasource"] = CH
    p["targets"] = ch_targets(sqls, fmt=0)
    if bars:
        p["fieldConfig"]["defaults"]["custom"].update({"drawStyle": "bars", "fillOpacity": 60})
    if stack:
        p["fieldConfig"]["defaults"]["custom"]["stacking"]["mode"] = "normal"
    return p


def ch_table(title: str, sql: str, desc: str = "", overrides: list[dict[str, Any]] | None = None) -> Panel:
    return {
        "type": "table",
        "title": title,
        "description": desc,
        "datasource": CH,
        "fieldConfig": {
            "defaults": {"custom": {"align": "auto", "cellOptions": {"type": "auto"}}},
            "overrides": overrides or [],
        },
        "options": {"showHeader": True, "cellHeight": "sm"},
        "targets": ch_targets([sql], fmt=1),
    }


def ch_bargauge(title: str, sql: str, unit: str = "short", desc: str = "") -> Panel:
    return {
        "type": "bargauge",
        "title": title,
        "description": desc,
        "datasource": CH,
        "fieldConfig": {
            "defaults": {
                "unit": unit,
                "color": {"mode": "continuous-BlYlRd"},
                "thresholds": thresholds(GREEN),
                "min": 0,
            },
            "overrides": [],
        },
        "options": {
            "orientation": "horizontal",
            "displayMode": "gradient",
            "showUnfilled": True,
            "valueMode": "color",
            "namePlacement": "auto",
            "sizing": "auto",
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": True},
        },
        "targets": ch_targets([sql], fmt=1),
    }


def prom_table(title: str, exprs: list[Expr], desc: str = "") -> Panel:
    targets = prom_targets(exprs)
    for t in targets:
        t.update({"format": "table", "instant": True, "range": False})
    return {
        "type": "table",
        "title": title,
        "description": desc,
        "datasource": PROM,
        "fieldConfig": {
            "defaults": {
                "custom": {"align": "auto", "cellOptions": {"type": "color-text"}},
                "thresholds": thresholds([("red", None), ("green", 1)]),
            },
            "overrides": [],
        },
        "options": {"showHeader": True, "cellHeight": "sm"},
        "transformations": [{"id": "organize", "options": {"excludeByName": {"Time": True}}}],
        "targets": targets,
    }


# -- ClickHouse panels on the analytics queries ------------------------------------------------------
def aq(name: str, **params: Any) -> str:
    """The analytics query `name` as Grafana SQL (the dashboard's time range as its window)."""
    return for_grafana(name, **params)


def wrap(select: str, name: str, **params: Any) -> str:
    """SELECT `select` FROM (the analytics query `name`)."""
    body = aq(name, **params)
    return f"SELECT {select}\nFROM\n(\n{body}\n)"


def daily(title: str, columns: str, name: str, unit: str = "short", bars: bool = False) -> Panel:
    """A time series per day of the analytics query `name`: SELECT bucket AS time, `columns`."""
    sql = wrap(f"bucket AS time, {columns}", name, granularity="day") + "\nORDER BY time"
    return src(ch_ts(title, [sql], unit, bars=bars), name, granularity="day")


def src(panel: Panel, name: str, **params: Any) -> Panel:
    """Mark the targets built on the analytics query `name` (observatorySource) and name its file in
    the panel's description."""
    for t in panel["targets"]:
        if t.get("rawSql") and aq(name, **params) in t["rawSql"]:
            t["observatorySource"] = {"query": name, "params": params}
    desc = panel.get("description") or ""
    panel["description"] = (desc + " " if desc else "") + f"SQL: services/observatory/store/queries/{name}.sql"
    return panel
