"""Kibana saved objects (dashboards/kibana/observatory-logs.ndjson, imported by `observatory setup
kibana`): three saved searches, four Lens visualisations and the Observatory / Logs dashboard, all
on the `observatory-logs` data view (Filebeat -> logs-observatory-default)."""

from __future__ import annotations

import json
from typing import Any

DV = "observatory-logs"
INDEX_REF = "kibanaSavedObjectMeta.searchSourceJSON.index"
SavedObject = dict[str, Any]
Column = dict[str, Any]

COUNT: Column = {
    "label": "Log lines",
    "dataType": "number",
    "operationType": "count",
    "isBucketed": False,
    "scale": "ratio",
    "sourceField": "___records___",
    "params": {"emptyAsNull": True},
    "customLabel": True,
}
TIME: Column = {
    "label": "@timestamp",
    "dataType": "date",
    "operationType": "date_histogram",
    "sourceField": "@timestamp",
    "isBucketed": True,
    "scale": "interval",
    "params": {"interval": "auto", "includeEmptyRows": True, "dropPartials": False},
}
# (saved object id, type, x, y, w, h) of the dashboard's panels; Kibana's grid is 48 columns wide
LAYOUT = [
    ("obs-logs-volume", "lens", 0, 0, 48, 12),
    ("obs-logs-error-rate", "lens", 0, 12, 48, 10),
    ("obs-logs-top-services", "lens", 0, 22, 16, 12),
    ("obs-logs-top-errors", "lens", 16, 22, 32, 12),
    ("obs-logs-errors", "search", 0, 34, 48, 15),
]


def search(id_: str, title: str, desc: str, query: str, columns: list[str], sort: str = "desc") -> SavedObject:
    source = {"query": {"query": query, "language": "kuery"}, "filter": [], "indexRefName": INDEX_REF}
    return {
        "type": "search",
        "id": id_,
        "coreMigrationVersion": "8.8.0",
        "typeMigrationVersion": "8.0.0",
        "attributes": {
            "title": title,
            "description": desc,
            "columns": columns,
            "sort": [["@timestamp", sort]],
            "hideChart": False,
            "isTextBasedQuery": False,
            "timeRestore": False,
            "grid": {},
            "kibanaSavedObjectMeta": {"searchSourceJSON": json.dumps(source)},
        },
        "references": [{"type": "index-pattern", "id": DV, "name": INDEX_REF}],
    }


def terms(field: str, size: int, order_col: str, label: str | None = None) -> Column:
    return {
        "label": label or f"Top {size} values of {field}",
        "dataType": "string",
        "operationType": "terms",
        "sourceField": field,
        "isBucketed": True,
        "scale": "ordinal",
        "customLabel": bool(label),
        "params": {
            "size": size,
            "orderBy": {"type": "column", "columnId": order_col},
            "orderDirection": "desc",
            "otherBucket": True,
            "missingBucket": False,
            "parentFormat": {"id": "terms"},
            "include": [],
            "exclude": [],
            "includeIsRegex": False,
            "excludeIsRegex": False,
        },
    }


def lens(
    id_: str,
    title: str,
    desc: str,
    vis_type: str,
    columns: dict[str, Column],
    order: list[str],
    visualization: dict[str, Any],
    query: str = "",
) -> SavedObject:
    return {
        "type": "lens",
        "id": id_,
        "coreMigrationVersion": "8.8.0",
        "typeMigrationVersion": "8.9.0",
        "attributes": {
            "title": title,
            "description": desc,
            "visualizationType": vis_type,
            "state": {
                "datasourceStates": {
                    "formBased": {
                        "layers": {
                            "layer1": {
                                "columnOrder": order,
                                "columns": columns,
                                "incompleteColumns": {},
                                "sampling": 1,
                            }
                        }
                    }
                },
                "visualization": visualization,
                "query": {"query": query, "language": "kuery"},
                "filters": [],
                "internalReferences": [],
                "adHocDataViews": {},
            },
        },
        "references": [{"type": "index-pattern", "id": DV, "name": "indexpattern-datasource-layer-layer1"}],
    }


def xy(series: str, x: str, accessors: list[str], split: str | None = None) -> dict[str, Any]:
    layer: dict[str, Any] = {
        "layerId": "layer1",
        "layerType": "data",
        "seriesType": series,
        "xAccessor": x,
        "accessors": accessors,
    }
    if split:
        layer["splitAccessor"] = split
    return {
        "legend": {"isVisible": True, "position": "right"},
        "valueLabels": "hide",
        "fittingFunction": "None",
        "preferredSeriesType": series,
        "layers": [layer],
    }


def searches() -> list[SavedObject]:
    return [
        search(
            "obs-logs-errors",
            "Observatory: errors",
            "Error and critical log lines of every service",
            'level : ("error" or "critical")',
            ["service", "level", "message", "trace_id", "request_id"],
        ),
        search(
            "obs-logs-by-service",
            "Observatory: logs by service",
            "Every log line with its service first; filter on service to follow one component",
            "service : *",
            ["service", "level", "logger", "message"],
        ),
        search(
            "obs-logs-by-trace",
            "Observatory: logs by trace id",
            "Lines that carry a trace id, oldest first: filter on trace_id (from Jaeger or Grafana) to read one request across services",
            "trace_id : *",
            ["trace_id", "service", "level", "message", "request_id"],
            sort="asc",
        ),
    ]


def visualisations() -> list[SavedObject]:
    return [
        lens(
            "obs-logs-volume",
            "Log volume by service",
            "Log lines over time, top 10 services",
            "lnsXY",
            {"ts": TIME, "svc": terms("service", 10, "cnt", "Service"), "cnt": COUNT},
            ["svc", "ts", "cnt"],
            xy("bar_stacked", "ts", ["cnt"], "svc"),
        ),
        lens(
            "obs-logs-error-rate",
            "Error rate (share of lines by level)",
            "Each bar is 100% of the lines in its interval; the error and critical share is the error rate",
            "lnsXY",
            {"ts": TIME, "lvl": terms("level", 6, "cnt", "Level"), "cnt": COUNT},
            ["lvl", "ts", "cnt"],
            xy("bar_percentage_stacked", "ts", ["cnt"], "lvl"),
        ),
        lens(
            "obs-logs-top-services",
            "Top services by log lines",
            "Services that log the most in the selected range",
            "lnsXY",
            {"svc": terms("service", 10, "cnt", "Service"), "cnt": COUNT},
            ["svc", "cnt"],
            xy("bar_horizontal", "svc", ["cnt"]),
        ),
        lens(
            "obs-logs-top-errors",
            "Top error messages",
            "Most frequent error and critical messages",
            "lnsDatatable",
            {
                "msg": terms("message.keyword", 15, "cnt", "Message"),
                "svc": terms("service", 5, "cnt", "Service"),
                "cnt": COUNT,
            },
            ["msg", "svc", "cnt"],
            {
                "layerId": "layer1",
                "layerType": "data",
                "columns": [{"columnId": "msg"}, {"columnId": "svc"}, {"columnId": "cnt"}],
            },
            query='level : ("error" or "critical")',
        ),
    ]


def dashboard() -> SavedObject:
    panels, refs = [], []
    for i, (ref_id, typ, x, y, w, h) in enumerate(LAYOUT, start=1):
        panels.append(
            {
                "version": "8.9.0",
                "type": typ,
                "gridData": {"x": x, "y": y, "w": w, "h": h, "i": str(i)},
                "panelIndex": str(i),
                "embeddableConfig": {"enhancements": {}},
                "panelRefName": f"panel_{i}",
            }
        )
        refs.append({"name": f"{i}:panel_{i}", "type": typ, "id": ref_id})
    options = {
        "useMargins": True,
        "syncColors": False,
        "syncCursor": True,
        "syncTooltips": False,
        "hidePanelTitles": False,
    }
    return {
        "type": "dashboard",
        "id": "obs-logs-dashboard",
        "coreMigrationVersion": "8.8.0",
        "typeMigrationVersion": "8.9.0",
        "attributes": {
            "title": "Observatory / Logs",
            "description": "Log volume, error rate, top services and top error messages of the whole stack (Filebeat → logs-observatory-default)",
            "panelsJSON": json.dumps(panels),
            "optionsJSON": json.dumps(options),
            "timeRestore": True,
            "timeFrom": "now-24h",
            "timeTo": "now",
            "refreshInterval": {"pause": False, "value": 60000},
            "kibanaSavedObjectMeta": {
                "searchSourceJSON": json.dumps({"query": {"query": "", "language": "kuery"}, "filter": []})
            },
        },
        "references": refs,
    }


def ndjson() -> str:
    """Every saved object, one JSON document a line (the format Kibana's import API reads)."""
    objects = searches() + visualisations() + [dashboard()]
    return "".join(json.dumps(o, separators=(",", ":")) + "\n" for o in objects)
