"""Observatory / Stack health (stack-health.json): is every component up and scraped? Versions,
broker and store health, the monitoring stack itself."""

from __future__ import annotations

from observatory.dashboards.grafana import Dash
from observatory.dashboards.panels import RI, prom_table, ts


def dashboard() -> Dash:
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
                (
                    f"sum by (integration) (rate(alertmanager_notifications_failed_total[{RI}]))",
                    "failed {{integration}}",
                ),
            ],
            "short",
        ),
        8,
        7,
    )
    return d
