"""Observatory / Pipeline (pipeline.json, the Grafana home dashboard): events from the ingest API
through RabbitMQ to ClickHouse: rate, errors, latency, queue depth, consumer lag, batch sizes,
end-to-end latency, dead letters."""

from __future__ import annotations

from observatory.dashboards.grafana import Dash
from observatory.dashboards.panels import EV, RI, stat, ts


def dashboard() -> Dash:
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
                {
                    "type": "value",
                    "options": {"0": {"text": "DOWN", "color": "red"}, "1": {"text": "UP", "color": "green"}},
                }
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
    return d
