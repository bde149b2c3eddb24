"""Prometheus metrics of every service: the names alert rules and dashboards rely on.

Each service builds its metrics into a registry it owns (nothing registered at import time).
Label values are bounded: routes are templates, reasons are codes from a fixed set, key names
come from configuration. No user ids, event ids or raw paths ever become label values.

Long because every service's metric families are declared here, in one place, so that names,
labels and buckets stay consistent with the alert rules and dashboards that read them.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
E2E_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0)
BATCH_BUCKETS = (1, 10, 100, 1_000, 5_000, 10_000, 50_000, 100_000)


def new_registry(service: str, version: str) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=True)
    Info("observatory_build", "Build information", registry=registry).info({"service": service, "version": version})
    return registry


@dataclass
class IngestMetrics:
    http_requests: Counter
    http_duration: Histogram
    events_accepted: Counter
    events_rejected: Counter
    events_dead_lettered: Counter
    dead_letter_failures: Counter
    publish_confirm: Histogram
    publish_failures: Counter
    broker_up: Gauge
    queue_max_length: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> IngestMetrics:
        return cls(
            http_requests=Counter(
                "ingest_http_requests",
                "HTTP requests by route template, method and status code",
                ["route", "method", "code"],
                registry=registry,
            ),
            http_duration=Histogram(
                "ingest_http_request_duration_seconds",
                "HTTP request duration",
                ["route", "method"],
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
            events_accepted=Counter(
                "ingest_events_accepted", "Events durably queued (broker confirmed)", ["source"], registry=registry
            ),
            events_rejected=Counter(
                "ingest_events_rejected", "Events refused, by reason code", ["reason"], registry=registry
            ),
            events_dead_lettered=Counter(
                "ingest_events_dead_lettered",
                "Invalid events of SDK batches put on the dead-letter queue "
                "(the rest of the batch accepted), by reason code",
                ["reason"],
                registry=registry,
            ),
            dead_letter_failures=Counter(
                "ingest_dead_letter_failures",
                "Invalid events of SDK batches NOT put on the dead-letter queue (broker nack, return or outage "
                "after the batch's valid events were accepted): reported to the client as rejected, kept nowhere",
                registry=registry,
            ),
            publish_confirm=Histogram(
                "ingest_publish_confirm_seconds",
                "Time from publish to broker confirm",
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
            publish_failures=Counter(
                "ingest_publish_failures",
                "Publishes not confirmed (nack, timeout, unavailable)",
                ["reason"],
                registry=registry,
            ),
            broker_up=Gauge("ingest_broker_up", "1 when the broker connection is open", registry=registry),
            queue_max_length=Gauge(
                "observatory_queue_max_length",
                "Configured x-max-length of the queue ingest publishes to",
                ["queue"],
                registry=registry,
            ),
        )


@dataclass
class ConsumerMetrics:
    messages_received: Counter
    batch_rows: Histogram
    insert_duration: Histogram
    rows_inserted: Counter
    insert_errors: Counter
    dead_lettered: Counter
    e2e_latency: Histogram
    last_insert: Gauge
    ready: Gauge
    held_messages: Gauge
    queue_messages: Gauge
    queue_consumers: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> ConsumerMetrics:
        return cls(
            messages_received=Counter(
                "consumer_messages_received", "AMQP messages taken from the queue", registry=registry
            ),
            batch_rows=Histogram(
                "consumer_batch_rows", "Rows per ClickHouse insert", buckets=BATCH_BUCKETS, registry=registry
            ),
            insert_duration=Histogram(
                "consumer_insert_duration_seconds",
                "Duration of one ClickHouse batch insert",
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
            rows_inserted=Counter("consumer_rows_inserted", "Rows inserted into ClickHouse", registry=registry),
            insert_errors=Counter(
                "consumer_insert_errors", "Failed ClickHouse inserts (the batch is retried)", registry=registry
            ),
            dead_lettered=Counter(
                "consumer_dead_lettered",
                "Messages or events sent to the dead-letter queue, by reason code",
                ["reason"],
                registry=registry,
            ),
            e2e_latency=Histogram(
                "consumer_end_to_end_latency_seconds",
                "From ingest receipt to ClickHouse insert",
                buckets=E2E_BUCKETS,
                registry=registry,
            ),
            last_insert=Gauge(
                "consumer_last_insert_timestamp_seconds", "Unix time of the last successful insert", registry=registry
            ),
            ready=Gauge("consumer_ready", "1 when the consumer can consume and insert", registry=registry),
            held_messages=Gauge(
                "consumer_held_messages",
                "Messages held un-acked because of a fault of the consumer's environment (e.g. GeoIP database "
                "missing): neither stored nor dead-lettered until the fault clears",
                registry=registry,
            ),
            queue_messages=Gauge(
                "observatory_queue_messages",
                "Messages waiting in a queue, sampled by the consumer",
                ["queue"],
                registry=registry,
            ),
            queue_consumers=Gauge(
                "observatory_queue_consumers", "Consumers attached to a queue", ["queue"], registry=registry
            ),
        )


FIT_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass
class ForecasterMetrics:
    """Forecaster: model health, and the anomaly gauges business alert rules compare
    (alert-rules/business.rules.yml). `metric` label values come from configuration
    (revenue, orders, dau, signups, events:<name>)."""

    http_requests: Counter
    http_duration: Histogram
    actual: Gauge
    expected: Gauge
    lower: Gauge
    upper: Gauge
    moving_average: Gauge
    payment_failure_ratio: Gauge
    payment_failure_ratio_7d: Gauge
    payment_attempts: Gauge
    evaluated: Gauge
    model_fits: Counter
    fit_duration: Histogram
    model_fitted: Gauge
    backtest_mape: Gauge
    backtest_mase: Gauge
    backtest_relative_mae: Gauge
    band_coverage: Gauge
    model_selected: Gauge
    reports_sent: Counter
    report_failures: Counter
    ready: Gauge
    worker_failures: Counter
    worker_peak_rss: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> ForecasterMetrics:
        return cls(
            http_requests=Counter(
                "forecaster_http_requests",
                "HTTP requests by route template, method and status code",
                ["route", "method", "code"],
                registry=registry,
            ),
            http_duration=Histogram(
                "forecaster_http_request_duration_seconds",
                "HTTP request duration",
                ["route", "method"],
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
            actual=Gauge(
                "forecaster_metric_actual",
                "Metric over the trailing 24 hours (revenue in currency units)",
                ["metric"],
                registry=registry,
            ),
            expected=Gauge(
                "forecaster_metric_expected",
                "Forecast (yhat) for the same trailing 24 hours",
                ["metric"],
                registry=registry,
            ),
            lower=Gauge(
                "forecaster_metric_lower",
                "Lower bound of the forecast band for the trailing 24 hours",
                ["metric"],
                registry=registry,
            ),
            upper=Gauge(
                "forecaster_metric_upper",
                "Upper bound of the forecast band for the trailing 24 hours",
                ["metric"],
                registry=registry,
            ),
            moving_average=Gauge(
                "forecaster_metric_moving_average_7d",
                "Mean daily value over the last 7 complete UTC days",
                ["metric"],
                registry=registry,
            ),
            payment_failure_ratio=Gauge(
                "forecaster_payment_failure_ratio",
                "payment_failed / (payment_failed + purchase_completed) over the payment window (0 when no attempt)",
                registry=registry,
            ),
            payment_failure_ratio_7d=Gauge(
                "forecaster_payment_failure_ratio_7d",
                "Payment failure ratio over the last 7 days (baseline)",
                registry=registry,
            ),
            payment_attempts=Gauge(
                "forecaster_payment_attempts", "Payment attempts over the payment window", registry=registry
            ),
            evaluated=Gauge(
                "forecaster_anomaly_evaluation_timestamp_seconds",
                "Unix time the anomaly gauges were last updated",
                registry=registry,
            ),
            model_fits=Counter(
                "forecaster_model_fits",
                "Model fits by metric, granularity and outcome (ok, insufficient_history, error)",
                ["metric", "granularity", "outcome"],
                registry=registry,
            ),
            fit_duration=Histogram(
                "forecaster_model_fit_duration_seconds",
                "Fit + predict time of one model (backtest included)",
                buckets=FIT_BUCKETS,
                registry=registry,
            ),
            model_fitted=Gauge(
                "forecaster_model_fitted_timestamp_seconds",
                "Unix time the model was last fitted",
                ["metric", "granularity"],
                registry=registry,
            ),
            backtest_mape=Gauge(
                "forecaster_backtest_mape",
                "Holdout MAPE of the served model at its last fit (0.1 = 10%)",
                ["metric", "granularity"],
                registry=registry,
            ),
            backtest_mase=Gauge(
                "forecaster_backtest_mase",
                "Holdout MASE of the served model (in-sample weekly seasonal naive scale; < 1: beats it)",
                ["metric", "granularity"],
                registry=registry,
            ),
            backtest_relative_mae=Gauge(
                "forecaster_backtest_relative_mae",
                "Holdout MAE of the served model / MAE of the best baseline "
                "(seasonal naive daily/weekly, ETS) on the same folds",
                ["metric", "granularity"],
                registry=registry,
            ),
            band_coverage=Gauge(
                "forecaster_band_coverage",
                "Held-out share of actuals inside the served, calibrated band "
                "(leave-one-fold-out; nominal: OBS_FORECASTER_INTERVAL_WIDTH)",
                ["metric", "granularity"],
                registry=registry,
            ),
            model_selected=Gauge(
                "forecaster_model_selected",
                "1 for the model serving the metric, 0 for the other candidates",
                ["metric", "granularity", "model"],
                registry=registry,
            ),
            reports_sent=Counter(
                "forecaster_reports_sent",
                "KPI report emails sent, by kind (daily, weekly)",
                ["kind"],
                registry=registry,
            ),
            report_failures=Counter(
                "forecaster_report_failures",
                "KPI report emails that could not be built or sent",
                ["kind"],
                registry=registry,
            ),
            ready=Gauge("forecaster_ready", "1 when the forecaster can read the store", registry=registry),
            worker_failures=Counter(
                "forecaster_fit_worker_failures",
                "Fit worker processes lost mid-job (reason: died, timeout); the job failed and the "
                "next one starts a fresh worker",
                ["reason"],
                registry=registry,
            ),
            worker_peak_rss=Gauge(
                "forecaster_fit_worker_peak_rss_bytes",
                "Largest peak RSS a fit worker process reported (model fits and the churn fit run there)",
                registry=registry,
            ),
        )


def observe_many(histogram: Histogram, counts, now) -> None:
    """Observe `now - t` n times for each (t, n) in counts (end-to-end latency of a batch): one
    update per run of equal receive times instead of one per row. A batch's rows share few receive
    times (ingest stamps a request's events alike), and Histogram.observe costs about a
    microsecond, as much as the rest of the consumer's work on a row. Uses the histogram's own
    bucket and sum counters (prometheus-client is pinned)."""
    bounds, buckets = histogram._upper_bounds, histogram._buckets
    for received, n in counts:
        amount = max(0.0, (now - received).total_seconds())
        histogram._sum.inc(amount * n)
        for i, bound in enumerate(bounds):
            if amount <= bound:
                buckets[i].inc(n)
                break
