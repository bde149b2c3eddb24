"""Settings for every service, read from the environment (one prefix per concern).

Nothing here connects to anything; the services receive these objects from the CLI.
Secrets (API keys) have no default, and placeholder secrets are refused outside development.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from observatory import gc_tuning
from observatory.redact import DEFAULT_PROPERTIES

REPO_CONFIG = Path(__file__).resolve().parents[2] / "config"
PLACEHOLDER_SECRETS = {"changeme", "change-me", "secret", "password", "test", "example"}


def _settings(prefix: str) -> SettingsConfigDict:
    return SettingsConfigDict(env_prefix=prefix, extra="ignore", populate_by_name=True)


def default_schema_path() -> Path:
    """The event schema: repo checkout first, then the copy installed in the image."""
    for candidate in (REPO_CONFIG / "events" / "schema.yml", Path("/etc/observatory/events/schema.yml")):
        if candidate.exists():
            return candidate
    return REPO_CONFIG / "events" / "schema.yml"


class CommonSettings(BaseSettings):
    model_config = _settings("OBS_")
    env: Literal["development", "test", "production"] = Field(
        default="development",
        description="development, test or production; every environment but development refuses placeholder keys and passwords, production also masks client addresses in access logs",
    )
    log_level: str = Field(default="INFO", description="level of the JSON log lines (DEBUG, INFO, WARNING, ERROR)")
    otlp_endpoint: str | None = Field(default=None, description="OTLP/HTTP base URL; tracing is off when unset")
    trace_sample_ratio: float = Field(
        default=1.0,
        ge=0.0,
        le=1.0,
        description="share of new traces kept (head sampling, 0..1); an incoming `traceparent` decides for its own trace",
    )
    redact_properties: str = Field(
        default=DEFAULT_PROPERTIES,
        description="comma-separated property names whose values are masked in logs and span attributes "
        "(e-mail addresses and card numbers are masked wherever they appear)",
    )
    mask_client_ip: bool | None = Field(
        default=None,
        description="mask the client address in access logs (IPv4 /24, IPv6 /48); "
        "default: on in production, off otherwise",
    )
    forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="comma-separated addresses or networks of reverse proxies whose X-Forwarded-For / "
        "X-Forwarded-Proto are trusted (the client address then comes from the header: GeoIP, rate "
        "limits, logs); compose's `https` profile sets its Caddy's fixed address; `*` trusts anyone",
    )
    gc_gen0_threshold: int = Field(
        default=gc_tuning.DEFAULT_GEN0,
        ge=0,
        description="the garbage collector's young-generation threshold once a service has started "
        "(Python's default is 700; 0 keeps it): see observatory/gc_tuning.py",
    )

    @field_validator("redact_properties")
    @classmethod
    def _default_redaction(cls, v: str) -> str:
        """Empty (compose passes the variable through unset as ``) means the built-in list."""
        return v if v.strip() else DEFAULT_PROPERTIES

    def masks_client_ip(self) -> bool:
        return self.env == "production" if self.mask_client_ip is None else self.mask_client_ip


class BrokerSettings(BaseSettings):
    """RabbitMQ connection and the topology every service declares at start."""

    model_config = _settings("OBS_AMQP_")
    url: str = Field(
        default="amqp://guest:guest@127.0.0.1:5672/%2F",
        repr=False,
        description="one AMQP URL or a comma-separated list (cluster nodes): services connect to "
        "the first that answers and fail over to the next on connection loss (holds passwords: kept out of reprs)",
    )
    exchange: str = Field(default="events", description="the exchange ingest publishes events to")
    queue: str = Field(default="events", description="the durable queue the consumer reads events from")
    dead_letter_exchange: str = Field(default="events.dlx", description="where refused, poison and expired messages go")
    dead_letter_queue: str = Field(
        default="events.dead", description="the queue holding dead-lettered messages with their reason headers"
    )
    max_length: int = Field(default=1_000_000, ge=1, description="messages; publishes beyond it are nacked")
    message_ttl_ms: int = Field(
        default=7 * 24 * 3600 * 1000,
        ge=1000,
        description="messages older than this are dead-lettered by RabbitMQ (default 7 days)",
    )
    heartbeat_s: int = Field(
        default=30, description="AMQP heartbeat: a silent connection is considered lost after about twice this"
    )
    queue_type: Literal["classic", "quorum"] = Field(
        default="classic", description="quorum: replicated events queue with a delivery limit (clusters)"
    )
    delivery_limit: int = Field(
        default=10,
        ge=1,
        description="quorum only: deliveries of a message before it is "
        "dead-lettered (a message that crashes the consumer every time)",
    )

    def urls(self) -> list[str]:
        urls = [u.strip() for u in self.url.split(",") if u.strip()]
        if not urls:
            raise ValueError("OBS_AMQP_URL holds no URL")
        return urls


class StoreSettings(BaseSettings):
    """ClickHouse: a server (`http://user:pass@host:8123`) or embedded chDB (`chdb:///abs/path`)."""

    model_config = _settings("OBS_CLICKHOUSE_")
    dsn: str = Field(
        default="chdb:///var/lib/observatory/chdb",
        repr=False,
        description="`http://user:pass@host:8123` (a ClickHouse server) or `chdb:///abs/path` (embedded chDB); may hold a password: kept out of reprs",
    )
    database: str = Field(
        default="observatory", description="the ClickHouse database holding events, rollups and forecasts"
    )
    ttl_days: int = Field(default=400, ge=1, description="events older than this are dropped (whole parts)")


class QuerySettings(BaseSettings):
    """POST /v1/query (read-only SQL for a read key): its caps, and on a server the login it uses."""

    model_config = _settings("OBS_QUERY_")
    clickhouse_dsn: str | None = Field(
        default=None,
        repr=False,
        description="a server DSN for the read API only, e.g. the read-only `query_api` user "
        "(config/clickhouse/users.d/query_api.xml: its profile then holds the caps below); "
        "default: OBS_CLICKHOUSE_DSN in a readonly=1 session (holds a password: kept out of reprs)",
    )
    max_seconds: int = Field(default=30, ge=1, description="ClickHouse max_execution_time per statement")
    max_memory_bytes: int = Field(default=1 << 30, ge=1 << 20, description="ClickHouse max_memory_usage per statement")
    max_rows_to_read: int = Field(
        default=1_000_000_000, ge=1, description="ClickHouse max_rows_to_read: rows a statement may scan"
    )
    max_result_rows: int = Field(default=100_000, ge=1, description="ClickHouse max_result_rows: rows in the answer")
    max_result_bytes: int = Field(
        default=256 << 20, ge=1 << 10, description="ClickHouse max_result_bytes: the answer's size in the engine"
    )
    max_response_bytes: int = Field(
        default=32 << 20, ge=1 << 10, description="the JSON response's size; a bigger one answers 413 result_too_large"
    )


class ApiKey(BaseModel):
    name: str
    sha256: str


def hash_key(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()


class ScopedKey(ApiKey):
    scopes: tuple[str, ...] = ("read",)


def _key_entries(text: str, variable: str) -> list[tuple[str, str, str]]:
    """`name:sha256:<64 hex>[:suffix]` entries -> (name, digest, suffix)."""
    out = []
    for entry in filter(None, (e.strip() for e in text.split(","))):
        name, sep, rest = entry.partition(":sha256:")
        digest, _, suffix = rest.partition(":")
        if not sep or len(digest) != 64 or not name:
            raise ValueError(f"{variable} entry {name or entry[:12]!r} is not `name:sha256:<64 hex>`")
        out.append((name, digest.lower(), suffix))
    return out


def _no_placeholders(digests: dict[str, str], what: str) -> None:
    if CommonSettings().env != "development":
        placeholders = {hash_key(p) for p in PLACEHOLDER_SECRETS}
        bad = [name for name, digest in digests.items() if digest in placeholders]
        if bad:
            raise ValueError(f"placeholder {what} for {bad} refused outside development")


class ApiSettings(BaseSettings):
    """Who may use the private (read) API: read keys with scopes; ingest keys only to tell them apart."""

    model_config = _settings("OBS_")
    api_keys: str = Field(
        default="",
        description="comma-separated `name:sha256:<64 hex>:read|admin` read keys "
        "(`observatory keygen --read NAME`); empty: the read API is closed",
    )
    ingest_api_keys: str = Field(
        default="",
        description="the ingest (write-only) keys, read here only so that a write key on the read API answers 403 instead of 401",
    )

    def read_keys(self) -> list[ScopedKey]:
        keys = []
        for name, digest, suffix in _key_entries(self.api_keys, "OBS_API_KEYS"):
            scopes = tuple(s.strip() for s in (suffix or "read").split("+") if s.strip())
            unknown = set(scopes) - {"read", "admin"}
            if unknown or not scopes:
                raise ValueError(f"OBS_API_KEYS entry {name!r}: scopes must be read and/or admin, got {suffix!r}")
            keys.append(ScopedKey(name=name, sha256=digest, scopes=scopes))
        return keys

    def write_hashes(self) -> set[str]:
        return {digest for _, digest, _ in _key_entries(self.ingest_api_keys, "OBS_INGEST_API_KEYS")}

    @model_validator(mode="after")
    def _valid(self) -> ApiSettings:
        keys = self.read_keys()
        _no_placeholders({k.name: k.sha256 for k in keys}, "read API key")
        self.write_hashes()
        return self


class ConsoleSettings(BaseSettings):
    """The web console on the private listener (`/console/`): signed session cookies."""

    model_config = _settings("OBS_CONSOLE_")
    session_secret: SecretStr = Field(
        default=SecretStr(""),
        description="HMAC key signing the console's session cookies (at least 16 characters); empty: the "
        "one in `session_secret_file`, else a random one per process (sessions end when it restarts)",
    )
    session_secret_file: Path | None = Field(
        default=None,
        description="file holding the session secret, made (mode 0600) on first start when missing "
        "(`make local`: .local/console-secret)",
    )
    session_ttl_s: int = Field(default=8 * 3600, ge=60, description="how long a console sign-in lasts, seconds")
    cookie_secure: bool = Field(
        default=False,
        description="add `Secure` to the console's cookies: set it when a TLS proxy serves the console",
    )


class IngestSettings(BaseSettings):
    model_config = _settings("OBS_INGEST_")
    host: str = Field(default="127.0.0.1", description="public listener: write paths and health")
    port: int = Field(default=8080, description="port of the public listener")
    private_host: str = Field(default="127.0.0.1", description="private listener: read API, /metrics, /docs")
    private_port: int = Field(default=8081, description="port of the private listener")
    workers: int = Field(
        default=1, ge=1, description="worker processes of `observatory run ingest` (each serves both listeners)"
    )
    api_keys: str = Field(
        description="comma-separated `name:sha256:<64 hex>` write keys (`observatory keygen NAME`); required, no default"
    )
    max_batch: int = Field(default=1000, ge=1, description="most events in one request; more: 413")
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, description="largest native request body; larger: 413")
    rate_limit_events_per_s: float = Field(default=20_000.0, gt=0, description="per key and per worker")
    rate_limit_burst: float = Field(
        default=40_000.0,
        gt=0,
        description="events a key may send at once before its per-second budget applies (per worker)",
    )
    confirm_timeout_s: float = Field(
        default=5.0, gt=0, description="how long a request waits for RabbitMQ's confirm before answering 503"
    )
    publish_in_flight: int = Field(
        default=1,
        ge=1,
        description="messages awaiting broker confirms at once; "
        "requests arriving meanwhile share the next message (group commit). 1 measured best on "
        "2 cores: larger groups, fewer messages for the broker and for this worker",
    )
    retry_after_s: int = Field(default=5, ge=1, description="`Retry-After` seconds on 503 answers")
    publish_max_waiting: int = Field(
        default=2000,
        ge=1,
        description="requests waiting for a broker confirm at "
        "once; beyond it (or publish_max_waiting_bytes) ingest answers 503 at once",
    )
    publish_max_waiting_bytes: int = Field(
        default=64 * 1024 * 1024,
        ge=1024,
        description="bytes of requests waiting for a confirm at once; beyond it: 503 at once",
    )
    publish_group_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=1024,
        description="largest AMQP message a publish group makes (one request larger "
        "than this goes alone); keep it under the broker's "
        "max_message_size (16 MiB in config/rabbitmq/rabbitmq.conf)",
    )
    cors_origins: str = Field(
        default="",
        description="comma-separated origins allowed to POST from browsers; "
        "`*` allows any (ingest keys are write-only)",
    )
    # SDK doors (PostHog, Segment, RudderStack): see docs/sdk.md
    sdk_max_body_bytes: int = Field(
        default=5 * 1024 * 1024, ge=1024, description="largest SDK request body as sent (compressed)"
    )
    max_decompressed_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=1024,
        description="largest body after gunzip/base64 (gzip bombs get 413); keep "
        "it under the broker's max_message_size (16 MiB)",
    )
    page_patterns: str = Field(
        default="/,/products/*,/product/*,/cart,/checkout*,/account*,/search*",
        description="comma-separated path globs: the web-vitals `page` label; else `other`",
    )
    max_exception_types: int = Field(default=50, ge=1, description="distinct exception-type label values")
    strict: bool = Field(default=False, description="reject event names not in the schema")
    schema_path: Path = Field(
        default_factory=default_schema_path,
        description="the event schema (config/events/schema.yml in a checkout, /etc/observatory/events/schema.yml in the image)",
    )

    def parsed_keys(self) -> list[ApiKey]:
        keys = [ApiKey(name=name, sha256=digest) for name, digest, _ in _key_entries(self.api_keys, "API key")]
        if not keys:
            raise ValueError("OBS_INGEST_API_KEYS holds no key")
        return keys

    @model_validator(mode="after")
    def _keys_valid(self) -> IngestSettings:
        _no_placeholders({k.name: k.sha256 for k in self.parsed_keys()}, "API key")
        return self

    @field_validator("cors_origins")
    @classmethod
    def _strip(cls, v: str) -> str:
        return v.strip()

    def page_pattern_list(self) -> list[str]:
        return [p.strip() for p in self.page_patterns.split(",") if p.strip()]


class ConsumerSettings(BaseSettings):
    model_config = _settings("OBS_CONSUMER_")
    batch_rows: int = Field(default=50_000, ge=1, description="flush when a batch holds this many rows")
    batch_bytes: int = Field(
        default=64 * 1024 * 1024, ge=1024, description="flush when the batch's message bodies reach this many bytes"
    )
    flush_ms: int = Field(default=500, ge=1, description="flush a non-empty batch after this long")
    prefetch: int = Field(default=2000, ge=1, description="unacknowledged messages the broker may send")
    retry_initial_s: float = Field(
        default=0.5, gt=0, description="first pause before retrying a failed insert (doubles each time)"
    )
    retry_max_s: float = Field(default=30.0, gt=0, description="longest pause between insert retries")
    host: str = Field(default="127.0.0.1", description="public listener: /health/live and /health/ready")
    port: int = Field(default=9100, description="port of the public listener (health)")
    metrics_host: str = Field(default="127.0.0.1", description="private listener: /metrics (and health)")
    metrics_port: int = Field(default=9101, description="port of the private listener (/metrics)")
    queue_poll_s: float = Field(default=5.0, gt=0, description="how often queue depth is sampled")
    store_client_ip: bool = Field(
        default=False,
        description="keep the client IP in events.client_ip and the "
        "`$ip` property; by default it is only used to look up the country, then dropped",
    )


def _duration_s(text: str) -> float:
    """`90s`, `15m`, `6h`, `1d`, `2w` or plain seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
    text = text.strip().lower()
    if text and text[-1] in units:
        return float(text[:-1]) * units[text[-1]]
    return float(text)


FORECAST_CANDIDATES = (
    "prophet",
    "ets",
    "seasonal_naive_week",
    "seasonal_naive_day",
    "ensemble",
    "baseline_median",
    "seasonal_median",
    "pool_blend",
)


class ForecasterSettings(BaseSettings):
    """Forecaster: Prophet models of business metrics, analytics API, anomaly gauges, report schedule."""

    model_config = _settings("OBS_FORECASTER_")
    host: str = Field(default="127.0.0.1", description="public listener: health only")
    port: int = Field(default=8090, description="port of the public listener (health)")
    private_host: str = Field(default="127.0.0.1", description="private listener: the read API, /metrics, /docs")
    private_port: int = Field(
        default=8091, description="port of the private listener (read API, /metrics, /docs, runbooks)"
    )
    alertmanager_url: str | None = Field(
        default=None,
        description="Alertmanager base URL (e.g. http://127.0.0.1:9093) whose firing alerts "
        "GET /v1/health/summary lists; unset: no alerts in the summary",
    )
    fit_workers: int = Field(
        default=1,
        ge=1,
        description="fit worker processes fitting models, running backtests and the churn fit "
        "(the serving process never loads Prophet, statsmodels or scikit-learn)",
    )
    fit_timeout_s: float = Field(
        default=900.0,
        gt=0,
        description="a fit worker job (a refresh, a backtest, the churn fit) running longer is killed; it fails",
    )
    fit_worker_idle_s: float = Field(
        default=600.0,
        gt=0,
        description="a fit worker idle this long exits (its memory returns; the next job restarts one: a few seconds)",
    )
    fit_waiting: int = Field(
        default=1, ge=0, description="HTTP requests that may wait for a fit worker; beyond that: 503 with Retry-After"
    )
    backtests_per_minute: float = Field(default=6.0, gt=0, description="per read key; beyond: 429")
    metrics: str = Field(
        default="revenue,orders,dau,signups",
        description="metrics refreshed on schedule and exported as anomaly gauges "
        "(revenue, orders, dau, signups, events:<event_name>)",
    )
    refresh: str = Field(
        default="revenue=1d,orders=1d,dau=7d,signups=7d,events=1d",
        description="model refresh interval per metric (`events` covers events:*)",
    )
    retry_s: float = Field(default=600.0, gt=0, description="retry a failed or too-short model after this long")
    evaluate_interval_s: float = Field(default=60.0, gt=0, description="how often the anomaly gauges are updated")
    tick_s: float = Field(default=5.0, gt=0, description="scheduler wake-up period")
    history_days: int = Field(
        default=1095, ge=7, description="daily models train on at most this many days (yearly seasonality from 730)"
    )
    history_hours: int = Field(default=24 * 28, ge=24, description="hourly models look back this far")
    min_history_days: int = Field(default=14, ge=2, description="fewer complete days: 422")
    min_history_hours: int = Field(default=72, ge=2, description="fewer complete hours: 422")
    max_periods_day: int = Field(default=90, ge=1, description="longest daily forecast served (`periods`); more: 422")
    max_periods_hour: int = Field(
        default=168, ge=1, description="longest hourly forecast served (`periods`); more: 422"
    )
    interval_width: float = Field(default=0.95, gt=0, lt=1, description="forecast band (yhat_lower..yhat_upper)")
    seasonality_mode: Literal["additive", "multiplicative"] = Field(
        default="multiplicative", description="Prophet's seasonality mode"
    )
    prophet_trend: Literal["linear", "flat"] = Field(
        default="flat",
        description="Prophet's trend over the forecast horizon: flat holds the trend at its last fitted value "
        "(seasonality and holidays still apply): no run-away at a turning point, no growth either; linear goes on "
        "with the last fitted slope (docs/forecast-evaluation.md: how the default was decided)",
    )
    uncertainty_samples: int = Field(
        default=300,
        ge=10,
        description="Prophet samples for its own band (served only while the history is too short to calibrate one)",
    )
    backtest_horizon_days: int = Field(default=14, ge=1, description="holdout per model-selection fold")
    backtest_horizon_hours: int = Field(default=24, ge=1, description="holdout per fold of hourly models")
    backtest_folds: int = Field(
        default=5,
        ge=0,
        description="the most recent folds a candidate richer than the baselines (Prophet, ensemble) must "
        "win on to serve (0: Prophet, uncalibrated band)",
    )
    calibration_folds: int = Field(
        default=30,
        ge=1,
        description="folds the baselines are scored on and the served band is calibrated from (per horizon half)",
    )
    selection_margin: float = Field(
        default=0.05,
        ge=0,
        lt=1,
        description="a candidate serves only if its MAE on the recent folds is this share below the best baseline's",
    )
    candidates: str = Field(
        default=",".join(FORECAST_CANDIDATES),
        description="models compared at each refresh; the first serves when none can be compared",
    )
    holidays: str = Field(
        default="",
        description="country codes (holidays package) whose public holidays Prophet models, e.g. DE or DE,AT",
    )
    yearly_min_days: int = Field(default=730, ge=365, description="yearly seasonality from this much daily history")
    payment_window_s: int = Field(default=3600, ge=60, description="window of the payment failure rate gauge")
    churn: bool = Field(default=True, description="score churn monthly (churn_scores table, /v1/churn, gauges)")
    churn_min_users: int = Field(default=50, ge=2, description="fewer active users at a cutoff: no churn model")
    schema_path: Path = Field(
        default_factory=default_schema_path,
        description="the event schema (events:<name> metrics are checked against it)",
    )

    def metric_list(self) -> list[str]:
        return [m.strip() for m in self.metrics.split(",") if m.strip()]

    def refresh_intervals(self) -> dict[str, float]:
        out = {}
        for entry in filter(None, (e.strip() for e in self.refresh.split(","))):
            name, sep, value = entry.partition("=")
            if not sep:
                raise ValueError(f"refresh entry {entry!r} is not metric=duration")
            out[name.strip()] = _duration_s(value)
        return out

    def refresh_s(self, metric: str) -> float:
        intervals = self.refresh_intervals()
        key = "events" if metric.startswith("events:") and metric not in intervals else metric
        return intervals.get(key, 86400.0)

    @model_validator(mode="after")
    def _valid(self) -> ForecasterSettings:
        try:
            intervals = self.refresh_intervals()
        except ValueError as exc:
            raise ValueError(f"OBS_FORECASTER_REFRESH: {exc}") from None
        if any(v <= 0 for v in intervals.values()):
            raise ValueError("OBS_FORECASTER_REFRESH: intervals must be positive")
        self.candidate_list(), self.holiday_countries()  # unknown names fail at start-up
        return self

    def candidate_list(self) -> tuple[str, ...]:
        names = tuple(dict.fromkeys(c.strip() for c in self.candidates.split(",") if c.strip()))
        unknown = [c for c in names if c not in FORECAST_CANDIDATES]
        if unknown or not names:
            raise ValueError(
                f"OBS_FORECASTER_CANDIDATES: unknown {unknown or 'empty list'}; "
                f"choose from {', '.join(FORECAST_CANDIDATES)}"
            )
        return names

    def holiday_countries(self) -> tuple[str, ...]:
        codes = tuple(dict.fromkeys(c.strip().upper() for c in self.holidays.split(",") if c.strip()))
        if codes:
            import holidays  # a dependency of prophet (the forecast extra)

            for code in codes:
                try:
                    holidays.country_holidays(code)
                except NotImplementedError:
                    raise ValueError(
                        f"OBS_FORECASTER_HOLIDAYS: unknown country {code!r} (ISO 3166 code, e.g. DE, US)"
                    ) from None
        return codes


class ReportSettings(BaseSettings):
    """Scheduled KPI reports by email (`observatory report daily|weekly`; the forecaster sends them on
    schedule when recipients are set). Times are UTC."""

    model_config = _settings("OBS_REPORT_")
    recipients: str = Field(default="", description="comma-separated addresses; empty: no scheduled reports")
    sender: str = Field(default="observatory@localhost", description="the From address of report emails")
    smtp_host: str = Field(default="127.0.0.1", description="SMTP server of report emails")
    smtp_port: int = Field(default=25, description="SMTP port of report emails")
    smtp_security: Literal["none", "starttls", "ssl"] = Field(default="none", description="none, starttls or ssl")
    smtp_username: str | None = Field(default=None, description="SMTP login; unset: no authentication")
    smtp_password: SecretStr | None = Field(
        default=None, description="SMTP password (a secret: never logged); placeholders refused outside development"
    )
    smtp_timeout_s: float = Field(default=10.0, gt=0, description="SMTP connection and command timeout")
    daily_at: str = Field(default="07:00", description="HH:MM UTC; empty: no daily report")
    weekly_at: str = Field(default="mon 07:00", description="DAY HH:MM UTC; empty: no weekly report (with PDF)")
    monthly_at: str = Field(
        default="1 07:00",
        description="DAY-OF-MONTH HH:MM UTC; empty: no monthly report (PDF with year-over-year and churn analysis)",
    )
    forecast_metric: str = Field(default="revenue", description="the metric whose forecast the reports chart")
    chart_history_days: int = Field(default=28, ge=7, description="days of history in the report chart")
    chart_forecast_days: int = Field(default=14, ge=1, description="days of forecast in the report chart")
    subject_prefix: str = Field(default="[Observatory]", description="prefix of every report's subject line")
    per_hour: float = Field(
        default=10.0, gt=0, description="reports sent on demand (HTTP) per hour and key; beyond: 429"
    )

    def recipient_list(self) -> list[str]:
        return [r.strip() for r in self.recipients.split(",") if r.strip()]

    @model_validator(mode="after")
    def _password(self) -> ReportSettings:
        if (
            self.smtp_password
            and self.smtp_password.get_secret_value().lower() in PLACEHOLDER_SECRETS
            and CommonSettings().env != "development"
        ):
            raise ValueError("placeholder SMTP password refused outside development")
        return self
