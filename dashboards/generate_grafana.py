"""Generates dashboards/grafana/*.json (the committed files are this script's output; a config test
checks they match). Run after changing a panel here or an analytics query in
services/observatory/store/queries/:  .venv/bin/python dashboards/generate_grafana.py [OUT_DIR]"""

import json
import pathlib
import sys

OUT = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent / "grafana"
OUT.mkdir(parents=True, exist_ok=True)
PROM = {"type": "prometheus", "uid": "prometheus"}
CH = {"type": "grafana-clickhouse-datasource", "uid": "clickhouse"}


class Dash:
    def __init__(self, uid, title, description, tags, time_from="now-6h", refresh="30s"):
        self.d = {
            "id": None,
            "uid": uid,
            "title": title,
            "description": description,
            "tags": ["observatory"] + tags,
            "timezone": "browser",
            "editable": False,
            "graphTooltip": 1,
            "schemaVersion": 41,
            "version": 1,
            "refresh": refresh,
            "time": {"from": time_from, "to": "now"},
            "timepicker": {"refresh_intervals": ["10s", "30s", "1m", "5m", "15m", "1h"]},
            "templating": {"list": []},
            "annotations": {
                "list": [
                    {
                        "builtIn": 1,
                        "datasource": {"type": "grafana", "uid": "-- Grafana --"},
                        "enable": True,
                        "hide": True,
                        "iconColor": "rgba(0, 211, 255, 1)",
                        "name": "Annotations & Alerts",
                        "type": "dashboard",
                    }
                ]
            },
            "links": [
                {
                    "title": "Observatory dashboards",
                    "type": "dashboards",
                    "tags": ["observatory"],
                    "asDropdown": True,
                    "includeVars": False,
                    "keepTime": True,
                    "icon": "external link",
                    "tooltip": "",
                    "targetBlank": False,
                }
            ],
            "panels": [],
        }
        self.y = 0
        self.x = 0
        self.row_h = 0
        self.next_id = 1

    def row(self, title):
        self.newline()
        self.d["panels"].append(
            {
                "id": self.next_id,
                "type": "row",
                "title": title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y},
                "panels": [],
            }
        )
        self.next_id += 1
        self.y += 1

    def newline(self):
        if self.x:
            self.y += self.row_h
            self.x = 0
            self.row_h = 0

    def add(self, panel, w, h):
        if self.x + w > 24:
            self.newline()
        panel["id"] = self.next_id
        self.next_id += 1
        panel["gridPos"] = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.x += w
        self.row_h = max(self.row_h, h)
        self.d["panels"].append(panel)

    def write(self, name):
        (OUT / name).write_text(json.dumps(self.d, indent=2) + "\n")


def thresholds(steps):
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for c, v in steps]}


GREEN = [("green", None)]


def prom_targets(exprs):
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


def ts(title, exprs, unit="short", desc="", th=None, stack=False, min0=True):
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


def stat(title, expr, unit="short", th=None, desc="", decimals=None, mappings=None, ds=PROM, sql=None):
    p = {
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
    p["targets"] = prom_targets([expr]) if sql is None else ch_targets([sql], fmt=1)
    return p


def ch_targets(sqls, fmt=0):
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


def ch_ts(title, sqls, unit="short", desc="", bars=False, stack=False):
    p = ts(title, [], unit, desc)
    p["datasource"] = CH
    p["targets"] = ch_targets(sqls, fmt=0)
    if bars:
        p["fieldConfig"]["defaults"]["custom"].update({"drawStyle": "bars", "fillOpacity": 60})
    if stack:
        p["fieldConfig"]["defaults"]["custom"]["stacking"]["mode"] = "normal"
    return p


def ch_table(title, sql, desc="", overrides=None):
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


def ch_bargauge(title, sql, unit="short", desc=""):
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


def prom_table(title, exprs, desc=""):
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


RI = "$__rate_interval"
EV = 'route="/v1/events"'

# ------------------------------------------------------------------------------------------------ pipeline
d = Dash(
    "observatory-pipeline",
    "Observatory / Pipeline",
    "Events from the ingest API through RabbitMQ to ClickHouse: rate, errors, latency, queue depth, consumer lag, batch sizes, end-to-end latency, dead letters.",
    ["pipeline"],
    time_from="now-1h",
    refresh="10s",
)
d.row("Ingest API (RED)")
d.add(
    stat(
        "Event requests/s",
        f"sum(rate(ingest_http_requests_total{{{EV}}}[{RI}]))",
        "reqps",
        desc="POST /v1/events per second, all status codes",
    ),
    4,
    4,
)
d.add(
    stat(
        "5xx ratio",
        f'(sum(rate(ingest_http_requests_total{{{EV},code=~"5.."}}[{RI}])) or vector(0)) / clamp_min(sum(rate(ingest_http_requests_total{{{EV}}}[{RI}])), 1e-9)',
        "percentunit",
        th=[("green", None), ("orange", 0.001), ("red", 0.01)],
        decimals=3,
        desc="Share of event requests answered 5xx (503 = broker did not confirm). SLO: < 0.1%.",
    ),
    4,
    4,
)
d.add(
    stat(
        "p99 latency",
        f"histogram_quantile(0.99, sum by (le) (rate(ingest_http_request_duration_seconds_bucket{{{EV}}}[{RI}])))",
        "s",
        th=[("green", None), ("orange", 0.25), ("red", 0.5)],
        desc="SLO: 99% of event requests within 500 ms",
    ),
    4,
    4,
)
d.add(
    stat(
        "Events accepted/s",
        f"sum(rate(ingest_events_accepted_total[{RI}]))",
        "short",
        desc="Events durably queued (broker confirmed)",
    ),
    4,
    4,
)
d.add(
    stat(
        "Events rejected/s",
        f"sum(rate(ingest_events_rejected_total[{RI}])) or vector(0)",
        "short",
        th=[("green", None), ("orange", 1), ("red", 50)],
        desc="Refused events, all reasons (validation, auth, rate limit, broker)",
    ),
    4,
    4,
)
d.add(
    stat(
        "Broker connection",
        "min(ingest_broker_up)",
        th=[("red", None), ("green", 1)],
        mappings=[
            {"type": "value", "options": {"0": {"text": "DOWN", "color": "red"}, "1": {"text": "UP", "color": "green"}}}
        ],
        desc="Every ingest worker's AMQP connection is open",
    ),
    4,
    4,
)
d.newline()
d.add(
    ts(
        "Requests by status code",
        [(f"sum by (code) (rate(ingest_http_requests_total{{{EV}}}[{RI}]))", "{{code}}")],
        "reqps",
        stack=True,
    ),
    8,
    8,
)
d.add(
    ts(
        "Request latency",
        [
            (
                f"histogram_quantile({q}, sum by (le) (rate(ingest_http_request_duration_seconds_bucket{{{EV}}}[{RI}])))",
                f"p{int(q * 100)}",
            )
            for q in (0.5, 0.95, 0.99)
        ],
        "s",
        th=[("green", None), ("red", 0.5)],
    ),
    8,
    8,
)
d.add(
    ts(
        "Events accepted and rejected",
        [
            (f"sum by (source) (rate(ingest_events_accepted_total[{RI}]))", "accepted {{source}}"),
            (f"sum by (reason) (rate(ingest_events_rejected_total[{RI}])) or vector(0)", "rejected {{reason}}"),
        ],
        "short",
    ),
    8,
    8,
)
d.add(
    ts(
        "Broker confirm latency",
        [
            (
                f"histogram_quantile({q}, sum by (le) (rate(ingest_publish_confirm_seconds_bucket[{RI}])))",
                f"p{int(q * 100)}",
            )
            for q in (0.5, 0.99)
        ],
        "s",
        desc="Publish to broker confirm; 202 is answered only after it",
    ),
    8,
    8,
)
d.add(
    ts(
        "Publish failures",
        [(f"sum by (reason) (rate(ingest_publish_failures_total[{RI}])) or vector(0)", "{{reason}}")],
        "short",
        th=[("green", None), ("red", 0.1)],
        desc="nack, timeout or broker unavailable: each one is a 503 to the sender",
    ),
    8,
    8,
)
d.row("Queue (RabbitMQ)")
d.add(
    ts(
        "Queue depth",
        [("max by (queue) (observatory_queue_messages)", "{{queue}}")],
        "short",
        th=[("green", None), ("orange", 100000), ("red", 800000)],
        desc="Messages waiting, sampled by the consumers (max-length 1,000,000: publishes beyond it are refused)",
    ),
    8,
    8,
)
d.add(
    ts(
        "Broker messages ready / unacked",
        [("sum(rabbitmq_queue_messages_ready)", "ready"), ("sum(rabbitmq_queue_messages_unacked)", "unacked")],
        "short",
        desc="RabbitMQ's own view, all queues",
    ),
    8,
    8,
)
d.add(ts("Consumers attached", [("max by (queue) (observatory_queue_consumers)", "{{queue}}")], "short"), 8, 8)
d.row("Consumer (ClickHouse)")
d.add(
    stat(
        "Consumer lag",
        "time() - max(consumer_last_insert_timestamp_seconds)",
        "s",
        th=[("green", None), ("orange", 60), ("red", 300)],
        desc="Seconds since the last successful ClickHouse insert",
    ),
    4,
    4,
)
d.add(stat("Rows inserted/s", f"sum(rate(consumer_rows_inserted_total[{RI}]))", "short"), 4, 4)
d.add(stat("Consumers ready", "sum(consumer_ready)", th=[("red", None), ("green", 1)]), 4, 4)
d.add(
    stat(
        "Insert errors (1h)",
        "sum(increase(consumer_insert_errors_total[1h]))",
        th=[("green", None), ("orange", 1), ("red", 10)],
        desc="Failed ClickHouse inserts; the batch is retried",
    ),
    4,
    4,
)
d.add(
    stat(
        "Dead letters (1h)",
        "sum(increase(consumer_dead_lettered_total[1h])) or vector(0)",
        th=[("green", None), ("orange", 1), ("red", 100)],
    ),
    4,
    4,
)
d.add(
    stat(
        "Dead-letter queue",
        'max(observatory_queue_messages{queue=~".*dead.*"})',
        th=[("green", None), ("orange", 1), ("red", 1000)],
        desc="Messages parked in the dead-letter queue: inspect and replay them",
    ),
    4,
    4,
)
d.newline()
d.add(
    ts(
        "End-to-end latency (ingest receipt → ClickHouse)",
        [
            (
                f"histogram_quantile({q}, sum by (le) (rate(consumer_end_to_end_latency_seconds_bucket[{RI}])))",
                f"p{int(q * 100)}",
            )
            for q in (0.5, 0.95, 0.99)
        ],
        "s",
        th=[("green", None), ("red", 60)],
    ),
    8,
    8,
)
d.add(
    ts(
        "Batch size (rows per insert)",
        [
            (f"histogram_quantile(0.5, sum by (le) (rate(consumer_batch_rows_bucket[{RI}])))", "p50"),
            (f"sum(rate(consumer_batch_rows_sum[{RI}])) / sum(rate(consumer_batch_rows_count[{RI}]))", "mean"),
        ],
        "short",
    ),
    8,
    8,
)
d.add(
    ts(
        "Insert duration",
        [
            (
                f"histogram_quantile({q}, sum by (le) (rate(consumer_insert_duration_seconds_bucket[{RI}])))",
                f"p{int(q * 100)}",
            )
            for q in (0.5, 0.99)
        ],
        "s",
    ),
    8,
    8,
)
d.add(
    ts(
        "Rows inserted and messages received",
        [
            (f"sum(rate(consumer_rows_inserted_total[{RI}]))", "rows inserted"),
            (f"sum(rate(consumer_messages_received_total[{RI}]))", "messages received"),
        ],
        "short",
    ),
    12,
    8,
)
d.add(
    ts(
        "Dead letters by reason",
        [(f"sum by (reason) (rate(consumer_dead_lettered_total[{RI}])) or vector(0)", "{{reason}}")],
        "short",
        th=[("green", None), ("red", 1)],
        desc="Poison messages and events moved to the dead-letter queue",
    ),
    12,
    8,
)
d.write("pipeline.json")

# ------------------------------------------------------------------------------------------------ SLOs
d = Dash(
    "observatory-slos",
    "Observatory / SLOs",
    "Service level objectives of the ingest API and the pipeline, error budgets over 30 days and burn rates. Availability: 99.9% of POST /v1/events without 5xx. Latency: 99% within 500 ms. Freshness: 99% of events in ClickHouse within 60 s.",
    ["slo"],
    time_from="now-7d",
    refresh="1m",
)
AV_ERR = lambda w: (
    f'((sum(increase(ingest_http_requests_total{{{EV},code=~"5.."}}[{w}])) or vector(0)) / clamp_min(sum(increase(ingest_http_requests_total{{{EV}}}[{w}])), 1))'
)
LAT_BAD = lambda w: (
    f'(1 - sum(increase(ingest_http_request_duration_seconds_bucket{{{EV},le="0.5"}}[{w}])) / clamp_min(sum(increase(ingest_http_request_duration_seconds_count{{{EV}}}[{w}])), 1))'
)
FRESH_BAD = lambda w: (
    f'(1 - sum(increase(consumer_end_to_end_latency_seconds_bucket{{le=~"60(\\\\.0)?"}}[{w}])) / clamp_min(sum(increase(consumer_end_to_end_latency_seconds_count[{w}])), 1))'
)
BUDGET_TH = [("red", None), ("orange", 0), ("yellow", 0.25), ("green", 0.5)]
for name, bad, budget in (
    ("Availability", AV_ERR, 0.001),
    ("Latency (500 ms)", LAT_BAD, 0.01),
    ("Freshness (60 s)", FRESH_BAD, 0.01),
):
    d.row(f"{name} SLO: {100 - budget * 100:g}%")
    d.add(
        stat(
            f"{name}: SLI (30d)",
            f"1 - {bad('30d')}",
            "percentunit",
            decimals=3,
            th=[("red", None), ("green", 1 - budget)],
        ),
        6,
        5,
    )
    d.add(
        stat(
            f"{name}: error budget left (30d)",
            f"1 - {bad('30d')} / {budget}",
            "percentunit",
            decimals=1,
            th=BUDGET_TH,
            desc=f"Share of the 30-day error budget ({budget:g} of requests/events) not yet spent; below 0 the SLO is broken",
        ),
        6,
        5,
    )
    d.add(
        ts(
            f"{name}: burn rate",
            [(f"{bad('1h')} / {budget}", "1h"), (f"{bad('6h')} / {budget}", "6h"), (f"{bad('3d')} / {budget}", "3d")],
            "x",
            th=[("green", None), ("orange", 6), ("red", 14.4)],
            desc="1 = spending the budget exactly over 30 days; 14.4 over 1h pages (2% of the budget in an hour), 6 over 6h opens a ticket",
        ),
        12,
        5,
    )
d.write("slos.json")

# ------------------------------------------------------------------------------------------------ stack health
d = Dash(
    "observatory-stack-health",
    "Observatory / Stack health",
    "Is every component up and scraped? Versions, broker and store health, the monitoring stack itself.",
    ["stack"],
    time_from="now-3h",
    refresh="30s",
)
d.row("Scrape targets")
d.add(prom_table("Targets up", [("up", "")], desc="1 = the last scrape succeeded"), 12, 8)
d.add(
    ts(
        "Targets down",
        [("count(up == 0) or vector(0)", "down"), ("count(up == 1)", "up")],
        "short",
        th=[("green", None), ("red", 1)],
    ),
    12,
    8,
)
d.add(
    prom_table(
        "Observatory builds",
        [("observatory_build_info", "")],
        desc="Service and version of every scraped Observatory process",
    ),
    12,
    6,
)
d.add(ts("Scrape duration", [("max by (job) (scrape_duration_seconds)", "{{job}}")], "s"), 12, 6)
d.row("RabbitMQ")
d.add(
    ts(
        "Broker memory",
        [
            ("sum(rabbitmq_process_resident_memory_bytes)", "resident"),
            ("sum(rabbitmq_resident_memory_limit_bytes)", "high watermark"),
        ],
        "bytes",
    ),
    8,
    7,
)
d.add(
    ts(
        "Connections and channels",
        [("sum(rabbitmq_connections)", "connections"), ("sum(rabbitmq_channels)", "channels")],
        "short",
    ),
    8,
    7,
)
d.add(
    ts(
        "Free disk (broker)",
        [
            ("min(rabbitmq_disk_space_available_bytes)", "available"),
            ("min(rabbitmq_disk_space_available_limit_bytes)", "alarm limit"),
        ],
        "bytes",
    ),
    8,
    7,
)
d.row("ClickHouse server (Docker stack)")
d.add(
    ts(
        "Queries/s and inserts/s",
        [
            (f"sum(rate(ClickHouseProfileEvents_Query[{RI}]))", "queries"),
            (f"sum(rate(ClickHouseProfileEvents_InsertQuery[{RI}]))", "inserts"),
        ],
        "short",
    ),
    8,
    7,
)
d.add(ts("Server memory", [("max(ClickHouseMetrics_MemoryTracking)", "tracked")], "bytes"), 8, 7)
d.add(
    ts(
        "Parts and merges",
        [
            ("max(ClickHouseAsyncMetrics_MaxPartCountForPartition)", "max parts per partition"),
            ("sum(ClickHouseMetrics_Merge)", "merges running"),
        ],
        "short",
        th=[("green", None), ("orange", 300)],
    ),
    8,
    7,
)
d.row("Monitoring")
d.add(ts("Prometheus series in head", [("prometheus_tsdb_head_series", "series")], "short"), 8, 7)
d.add(
    ts(
        "Rule evaluation failures",
        [(f"sum(rate(prometheus_rule_evaluation_failures_total[{RI}])) or vector(0)", "failures/s")],
        "short",
        th=[("green", None), ("red", 0.01)],
    ),
    8,
    7,
)
d.add(
    ts(
        "Alertmanager notifications",
        [
            (f"sum by (integration) (rate(alertmanager_notifications_total[{RI}]))", "sent {{integration}}"),
            (f"sum by (integration) (rate(alertmanager_notifications_failed_total[{RI}]))", "failed {{integration}}"),
        ],
        "short",
    ),
    8,
    7,
)
d.write("stack-health.json")

# ------------------------------------------------------------------------------------------------ infrastructure
SVC = "container_label_com_docker_compose_service"
d = Dash(
    "observatory-infrastructure",
    "Observatory / Infrastructure",
    "The host (node-exporter) and every container (cAdvisor): CPU, memory, disk and network.",
    ["infrastructure"],
    time_from="now-3h",
    refresh="30s",
)
d.row("Host")
d.add(
    stat(
        "CPU busy",
        f'1 - avg(rate(node_cpu_seconds_total{{mode="idle"}}[{RI}]))',
        "percentunit",
        th=[("green", None), ("orange", 0.7), ("red", 0.9)],
    ),
    6,
    4,
)
d.add(
    stat(
        "Memory available",
        "min(node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)",
        "percentunit",
        th=[("red", None), ("orange", 0.1), ("green", 0.2)],
    ),
    6,
    4,
)
d.add(
    stat(
        "Disk free (fullest filesystem)",
        'min(node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs"} / node_filesystem_size_bytes{fstype!~"tmpfs|overlay|squashfs"})',
        "percentunit",
        th=[("red", None), ("orange", 0.1), ("green", 0.2)],
    ),
    6,
    4,
)
d.add(
    stat(
        "Load (1m) per core",
        "max(node_load1) / count(count by (cpu) (node_cpu_seconds_total))",
        "short",
        th=[("green", None), ("orange", 1), ("red", 2)],
    ),
    6,
    4,
)
d.row("Containers")
d.add(
    ts(
        "CPU per container",
        [(f'sum by ({SVC}) (rate(container_cpu_usage_seconds_total{{{SVC}!=""}}[{RI}]))', f"{{{{{SVC}}}}}")],
        "percentunit",
        stack=True,
    ),
    12,
    8,
)
d.add(
    ts(
        "Memory per container (working set)",
        [(f'sum by ({SVC}) (container_memory_working_set_bytes{{{SVC}!=""}})', f"{{{{{SVC}}}}}")],
        "bytes",
        stack=True,
    ),
    12,
    8,
)
d.add(
    ts(
        "Memory vs. limit",
        [
            (
                f'max by ({SVC}) (container_memory_working_set_bytes{{{SVC}!=""}} / (container_spec_memory_limit_bytes{{{SVC}!=""}} > 0))',
                f"{{{{{SVC}}}}}",
            )
        ],
        "percentunit",
        th=[("green", None), ("orange", 0.8), ("red", 0.95)],
        desc="Near 100% the kernel kills the container (OOM)",
    ),
    12,
    8,
)
d.add(
    ts(
        "Disk I/O per container",
        [
            (f'sum by ({SVC}) (rate(container_fs_writes_bytes_total{{{SVC}!=""}}[{RI}]))', f"write {{{{{SVC}}}}}"),
            (f'sum by ({SVC}) (rate(container_fs_reads_bytes_total{{{SVC}!=""}}[{RI}]))', f"read {{{{{SVC}}}}}"),
        ],
        "Bps",
    ),
    12,
    8,
)
d.add(
    ts(
        "Network received per container",
        [(f'sum by ({SVC}) (rate(container_network_receive_bytes_total{{{SVC}!=""}}[{RI}]))', f"{{{{{SVC}}}}}")],
        "Bps",
    ),
    12,
    8,
)
d.add(
    ts(
        "Network sent per container",
        [(f'sum by ({SVC}) (rate(container_network_transmit_bytes_total{{{SVC}!=""}}[{RI}]))', f"{{{{{SVC}}}}}")],
        "Bps",
    ),
    12,
    8,
)
d.add(
    ts(
        "Host disk space used",
        [
            (
                '1 - node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs"} / node_filesystem_size_bytes{fstype!~"tmpfs|overlay|squashfs"}',
                "{{mountpoint}}",
            )
        ],
        "percentunit",
        th=[("green", None), ("orange", 0.8), ("red", 0.9)],
    ),
    12,
    8,
)
d.add(
    ts(
        "Host network",
        [
            (f'sum(rate(node_network_receive_bytes_total{{device!~"lo|veth.*|docker.*|br-.*"}}[{RI}]))', "received"),
            (f'sum(rate(node_network_transmit_bytes_total{{device!~"lo|veth.*|docker.*|br-.*"}}[{RI}]))', "sent"),
        ],
        "Bps",
    ),
    12,
    8,
)
d.write("infrastructure.json")

# ------------------------------------------------------------------------------------------------ business KPIs
from observatory.setup.analytics_sql import for_grafana


def aq(name, **params):
    return for_grafana(name, **params)


def src(panel, name, **params):
    for t in panel["targets"]:
        if t.get("rawSql") and aq(name, **params) in t["rawSql"]:
            t["observatorySource"] = {"query": name, "params": params}
    panel["description"] = (
        panel.get("description") + " " if panel.get("description") else ""
    ) + f"SQL: services/observatory/store/queries/{name}.sql"
    return panel


def wrap(select, name, **params):
    body = aq(name, **params)
    return f"SELECT {select}\nFROM\n(\n{body}\n)"


E = "observatory.events FINAL"
d = Dash(
    "observatory-business",
    "Observatory / Business KPIs",
    "Webshop KPIs from ClickHouse (the analytics SQL of services/observatory/store/queries): active users, revenue, orders, conversion, funnel, top products, and the forecaster's band.",
    ["business"],
    time_from="now-30d",
    refresh="5m",
)
d.row("Headline KPIs (dashboard range)")
for title, col, unit, th, dec in (
    ("Revenue", "revenue", "currencyEUR", None, 2),
    ("Orders", "orders", "short", None, 0),
    ("Average order value", "average_order_value", "currencyEUR", None, 2),
    ("Purchase conversion", "purchase_conversion", "percentunit", None, 1),
    (
        "Payment failure rate",
        "payment_failure_rate",
        "percentunit",
        [("green", None), ("orange", 0.05), ("red", 0.15)],
        1,
    ),
    ("New users", "signups", "short", None, 0),
):
    d.add(src(stat(title, None, unit, ds=CH, th=th, decimals=dec, sql=wrap(col, "kpi_summary")), "kpi_summary"), 4, 4)
d.row("Trends")
d.add(
    src(
        ch_ts(
            "Daily active users",
            [wrap("toDateTime(day, 'UTC') AS time, active_users", "dau") + "\nORDER BY time"],
            "short",
            bars=True,
        ),
        "dau",
    ),
    12,
    8,
)
d.add(
    src(
        ch_ts(
            "Revenue per day",
            [wrap("bucket AS time, revenue", "revenue", granularity="day") + "\nORDER BY time"],
            "currencyEUR",
            bars=True,
        ),
        "revenue",
        granularity="day",
    ),
    12,
    8,
)
forecast = """SELECT ds AS time, yhat AS forecast, yhat_lower AS lower, yhat_upper AS upper
FROM observatory.forecasts FINAL
WHERE metric = 'revenue' AND granularity = 'day' AND $__timeFilter(ds)
ORDER BY time"""
p = ch_ts(
    "Revenue: actual and forecast band",
    [wrap("bucket AS time, revenue AS actual", "revenue", granularity="day") + "\nORDER BY time", forecast],
    "currencyEUR",
    desc="Daily revenue against the forecaster's latest fit and forecast, with its uncertainty band (lower..upper); a day outside the band is an anomaly.",
)
p["fieldConfig"]["overrides"] = [
    {
        "matcher": {"id": "byName", "options": "lower"},
        "properties": [
            {"id": "custom.fillBelowTo", "value": "upper"},
            {"id": "custom.lineWidth", "value": 0},
            {"id": "color", "value": {"mode": "fixed", "fixedColor": "blue"}},
            {"id": "custom.fillOpacity", "value": 20},
        ],
    },
    {
        "matcher": {"id": "byName", "options": "upper"},
        "properties": [
            {"id": "custom.lineWidth", "value": 0},
            {"id": "color", "value": {"mode": "fixed", "fixedColor": "blue"}},
        ],
    },
    {
        "matcher": {"id": "byName", "options": "forecast"},
        "properties": [
            {"id": "custom.lineStyle", "value": {"fill": "dash", "dash": [10, 10]}},
            {"id": "color", "value": {"mode": "fixed", "fixedColor": "blue"}},
        ],
    },
    {
        "matcher": {"id": "byName", "options": "actual"},
        "properties": [
            {"id": "color", "value": {"mode": "fixed", "fixedColor": "green"}},
            {"id": "custom.lineWidth", "value": 2},
        ],
    },
]
d.add(src(p, "revenue", granularity="day"), 24, 9)
d.add(
    src(
        ch_ts(
            "New and returning users per day",
            [
                wrap("bucket AS time, new_users, returning_users", "new_vs_returning", granularity="day")
                + "\nORDER BY time"
            ],
            "short",
            bars=True,
            stack=True,
        ),
        "new_vs_returning",
        granularity="day",
    ),
    12,
    8,
)
d.add(
    src(
        ch_ts(
            "Payment failure rate per day",
            [wrap("bucket AS time, failure_rate", "payment_failure_rate", granularity="day") + "\nORDER BY time"],
            "percentunit",
        ),
        "payment_failure_rate",
        granularity="day",
    ),
    12,
    8,
)
d.add(
    ch_ts(
        "Events per day by type",
        [
            f"""
SELECT toStartOfDay(timestamp) AS time, event_name, count() AS events
FROM {E}
WHERE $__timeFilter(timestamp)
GROUP BY time, event_name
ORDER BY time"""
        ],
        "short",
        stack=True,
        bars=True,
    ),
    24,
    8,
)
d.row("Funnel and products")
d.add(
    src(
        ch_bargauge(
            "Purchase funnel (users, signup to purchase within 7 days)",
            wrap("concat(toString(step), '. ', event_name) AS step_name, users", "funnel", window_seconds=604800)
            + "\nORDER BY step_name",
            desc="Users reaching each step in order within 7 days of their signup",
        ),
        "funnel",
        window_seconds=604800,
    ),
    10,
    9,
)
d.add(
    src(
        ch_table(
            "Top products by revenue",
            aq("top_products_by_revenue", limit=10),
            overrides=[
                {
                    "matcher": {"id": "byName", "options": "revenue"},
                    "properties": [
                        {"id": "unit", "value": "currencyEUR"},
                        {"id": "custom.cellOptions", "value": {"type": "gauge", "mode": "gradient"}},
                    ],
                }
            ],
        ),
        "top_products_by_revenue",
        limit=10,
    ),
    14,
    9,
)
d.row("Web traffic and churn risk")
for title, col, unit, th, dec in (
    ("Visitors", "visitors", "short", None, 0),
    ("Sessions", "sessions", "short", None, 0),
    ("Bounce rate", "bounce_rate", "percentunit", [("green", None), ("orange", 0.5), ("red", 0.7)], 1),
    ("Avg session duration", "avg_session_duration_s", "s", None, 0),
):
    d.add(
        src(
            stat(
                title,
                None,
                unit,
                ds=CH,
                th=th,
                decimals=dec,
                sql=wrap(col, "web_overview"),
                desc="Sessions: session id, else 30 minutes of inactivity per user; bounce = one pageview",
            ),
            "web_overview",
        ),
        3,
        4,
    )
d.add(
    src(
        stat(
            "Active users at risk of churning",
            None,
            "short",
            ds=CH,
            decimals=0,
            sql=wrap("at_risk", "churn_segments") + "\nWHERE segment = 'all'",
            desc="Users of the newest monthly churn scoring with a churn probability >= 50%",
        ),
        "churn_segments",
    ),
    6,
    4,
)
d.add(
    src(
        stat(
            "Mean churn probability",
            None,
            "percentunit",
            ds=CH,
            decimals=1,
            th=[("green", None), ("orange", 0.15), ("red", 0.3)],
            sql=wrap("mean_probability", "churn_segments") + "\nWHERE segment = 'all'",
        ),
        "churn_segments",
    ),
    6,
    4,
)
d.add(
    src(
        ch_ts(
            "Sessions and visitors per day",
            [wrap("bucket AS time, sessions, visitors", "web_traffic", granularity="day") + "\nORDER BY time"],
            "short",
        ),
        "web_traffic",
        granularity="day",
    ),
    12,
    8,
)
d.add(
    src(
        ch_ts(
            "Bounce rate per day",
            [wrap("bucket AS time, bounce_rate", "web_traffic", granularity="day") + "\nORDER BY time"],
            "percentunit",
        ),
        "web_traffic",
        granularity="day",
    ),
    12,
    8,
)
d.add(
    src(
        ch_bargauge(
            "Churn risk by plan, device and source (mean probability)",
            wrap(
                "concat(segment, ': ', if(value = '', 'unknown', value)) AS segment_value, mean_probability",
                "churn_segments",
            )
            + "\nWHERE segment IN ('plan', 'device_type', 'source')\nORDER BY segment_value",
            unit="percentunit",
            desc="Newest monthly churn scoring (logistic regression on six months of engagement)",
        ),
        "churn_segments",
    ),
    12,
    9,
)
d.add(
    src(
        ch_table(
            "Churn risk by country",
            wrap("value AS country, users, mean_probability, at_risk", "churn_segments")
            + "\nWHERE segment = 'country'\nORDER BY users DESC",
            overrides=[
                {
                    "matcher": {"id": "byName", "options": "mean_probability"},
                    "properties": [{"id": "unit", "value": "percentunit"}],
                }
            ],
        ),
        "churn_segments",
    ),
    12,
    9,
)
d.row("Forecaster: anomaly gauges (Prometheus)")
d.add(
    ts(
        "Revenue, trailing 24 h: actual vs forecast band",
        [
            ('max(forecaster_metric_actual{metric="revenue"})', "actual"),
            ('max(forecaster_metric_expected{metric="revenue"})', "expected"),
            ('max(forecaster_metric_lower{metric="revenue"})', "lower"),
            ('max(forecaster_metric_upper{metric="revenue"})', "upper"),
        ],
        "currencyEUR",
        desc="The forecaster's anomaly gauges: revenue of the last 24 hours against the forecast for the same window; outside lower..upper the business alerts fire",
    ),
    12,
    8,
)
d.add(
    ts(
        "Actual / expected by metric",
        [
            (
                "max by (metric) (forecaster_metric_actual) / max by (metric) (forecaster_metric_expected > 0)",
                "{{metric}}",
            )
        ],
        "percentunit",
        th=[("red", None), ("orange", 0.7), ("green", 0.85), ("orange", 1.2), ("red", 1.5)],
        desc="1 = exactly as forecast",
    ),
    12,
    8,
)
d.add(
    stat(
        "Revenue model age",
        'time() - max(forecaster_model_fitted_timestamp_seconds{metric="revenue"})',
        "s",
        th=[("green", None), ("orange", 2 * 86400), ("red", 3 * 86400)],
        desc="Models are refitted daily; older means the scheduler is stuck",
    ),
    6,
    5,
)
d.add(
    stat(
        "Anomaly gauges age",
        "time() - max(forecaster_anomaly_evaluation_timestamp_seconds)",
        "s",
        th=[("green", None), ("orange", 300), ("red", 900)],
    ),
    6,
    5,
)
d.add(
    ts(
        "Backtest error (MAPE)",
        [("max by (metric) (forecaster_backtest_mape)", "{{metric}}")],
        "percentunit",
        th=[("green", None), ("orange", 0.2), ("red", 0.4)],
        desc="Holdout error of the last fit of each daily model",
    ),
    6,
    5,
)
d.add(
    ts(
        "Payment failure ratio vs 7-day baseline",
        [
            ("max(forecaster_payment_failure_ratio)", "last window"),
            ("max(forecaster_payment_failure_ratio_7d)", "7-day baseline"),
        ],
        "percentunit",
    ),
    6,
    5,
)
d.write("business.json")


# ------------------------------------------------------------------------------------------------ frontend
# Browser SDK signals through ingest's SDK doors (observatory.ingest.frontend): Core Web Vitals histograms
# by bounded page pattern and exceptions by type. Thresholds are Google's (good / poor at p75).
VITALS = [  # (key, metric, title, unit, good, poor)
    ("lcp", "frontend_web_vitals_lcp_seconds", "LCP", "s", 2.5, 4.0),
    ("inp", "frontend_web_vitals_inp_seconds", "INP", "s", 0.2, 0.5),
    ("cls", "frontend_web_vitals_cls", "CLS", "none", 0.1, 0.25),
    ("fcp", "frontend_web_vitals_fcp_seconds", "FCP", "s", 1.8, 3.0),
    ("ttfb", "frontend_web_vitals_ttfb_seconds", "TTFB", "s", 0.8, 1.8),
]
W30 = "30m"
d = Dash(
    "observatory-frontend",
    "Observatory / Frontend",
    "Core Web Vitals (p75 of real page loads vs Google's thresholds, rating shares) and client-side exceptions, "
    "from posthog-js $web_vitals and $exception events sent to ingest's PostHog door.",
    ["frontend"],
    time_from="now-6h",
    refresh="1m",
)
d.row("Core Web Vitals: p75 over 30 minutes, all pages")
for key, metric, title, unit, good, poor in VITALS:
    d.add(
        stat(
            f"p75 {title}",
            f"histogram_quantile(0.75, sum by (le) (rate({metric}_bucket[{W30}])))",
            unit,
            th=[("green", None), ("orange", good), ("red", poor)],
            decimals=3 if key in ("cls", "inp") else 2,
            desc=f"Good <= {good}, poor > {poor} (Google's thresholds, judged at the 75th percentile)",
        ),
        4,
        4,
    )
d.add(
    stat(
        "Vital reports/s",
        f"sum(rate(frontend_web_vitals_fcp_seconds_count[{RI}])) or vector(0)",
        "short",
        desc="$web_vitals reports with an FCP value per second",
    ),
    4,
    4,
)
d.row("p75 by page (configured path patterns; `other` = every unlisted path)")
for key, metric, title, unit, good, poor in VITALS[:3]:
    d.add(
        ts(
            f"p75 {title} by page",
            [(f"histogram_quantile(0.75, sum by (le, page) (rate({metric}_bucket[{W30}])))", "{{page}}")],
            unit,
            th=[("green", None), ("orange", good), ("red", poor)],
            desc=f"Lines: good <= {good}, poor > {poor}. The Web Vitals alerts fire above the good threshold for 15 minutes.",
        ),
        8,
        8,
    )
d.row("Rating shares (from the histogram buckets on the thresholds)")
d.add(
    ts(
        "Good share by vital",
        [
            (f'sum(rate({m}_bucket{{le="{float(g)}"}}[{W30}])) / clamp_min(sum(rate({m}_count[{W30}])), 1e-9)', t)
            for _, m, t, _, g, _ in VITALS
        ],
        "percentunit",
        desc="Share of page loads rated good (value <= the good threshold)",
    ),
    12,
    8,
)
d.add(
    ts(
        "Poor share by vital",
        [
            (f'1 - sum(rate({m}_bucket{{le="{float(p)}"}}[{W30}])) / clamp_min(sum(rate({m}_count[{W30}])), 1e-9)', t)
            for _, m, t, _, _, p in VITALS
        ],
        "percentunit",
        desc="Share of page loads rated poor (value > the poor threshold); the rest needs improvement",
    ),
    12,
    8,
)
d.row("Client exceptions")
d.add(
    ts(
        "Exceptions/s by type",
        [(f"sum by (type) (rate(frontend_exceptions_total[{RI}]))", "{{type}}")],
        "short",
        stack=True,
        desc="$exception events by exception type (at most OBS_INGEST_MAX_EXCEPTION_TYPES types, then `other`). "
        "Messages, affected users and last seen: the top_exceptions analytics query.",
    ),
    16,
    8,
)
d.add(
    stat(
        "Exceptions, last hour",
        "sum(increase(frontend_exceptions_total[1h])) or vector(0)",
        "short",
        th=[("green", None), ("orange", 10), ("red", 100)],
    ),
    8,
    4,
)
d.add(stat("Exception types seen", "count(sum by (type) (frontend_exceptions_total)) or vector(0)", "short"), 8, 4)
d.write("frontend.json")
