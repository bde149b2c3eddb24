"""Settings for every service, read from the environment (one prefix per concern).

Nothing here connects to anything; the services receive these objects from the CLI.
Secrets (API keys) have no default, and placeholder secrets are refused outside development.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    env: Literal["development", "test", "production"] = "development"
    log_level: str = "INFO"
    otlp_endpoint: str | None = Field(default=None, description="OTLP/HTTP base URL; tracing is off when unset")
    trace_sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0)
    redact_properties: str = Field(
        default="email,phone,phone_number,card_number,password,iban,ssn,ip_address",
        description="comma-separated property names whose values are masked in logs and span attributes "
                    "(e-mail addresses and card numbers are masked wherever they appear)")


class BrokerSettings(BaseSettings):
    """RabbitMQ connection and the topology every service declares at start."""

    model_config = _settings("OBS_AMQP_")
    url: str = "amqp://guest:guest@127.0.0.1:5672/%2F"
    exchange: str = "events"
    queue: str = "events"
    dead_letter_exchange: str = "events.dlx"
    dead_letter_queue: str = "events.dead"
    max_length: int = Field(default=1_000_000, ge=1, description="messages; publishes beyond it are nacked")
    message_ttl_ms: int = Field(default=7 * 24 * 3600 * 1000, ge=1000)
    heartbeat_s: int = 30


class StoreSettings(BaseSettings):
    """ClickHouse: a server (`http://user:pass@host:8123`) or embedded chDB (`chdb:///abs/path`)."""

    model_config = _settings("OBS_CLICKHOUSE_")
    dsn: str = "chdb:///var/lib/observatory/chdb"
    database: str = "observatory"
    ttl_days: int = Field(default=400, ge=1, description="events older than this are dropped (whole parts)")


class ApiKey(BaseModel):
    name: str
    sha256: str


def hash_key(plain: str) -> str:
    return hashlib.sha256(plain.encode()).hexdigest()


class IngestSettings(BaseSettings):
    model_config = _settings("OBS_INGEST_")
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = Field(default=1, ge=1)
    api_keys: str = Field(
        description="comma-separated `name:sha256hex` entries (see `observatory keygen`); no default"
    )
    max_batch: int = Field(default=1000, ge=1)
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    rate_limit_events_per_s: float = Field(default=20_000.0, gt=0, description="per key and per worker")
    rate_limit_burst: float = Field(default=40_000.0, gt=0)
    confirm_timeout_s: float = Field(default=5.0, gt=0)
    publish_in_flight: int = Field(default=4, ge=1, description="messages awaiting broker confirms at once; "
                                   "requests arriving meanwhile share the next message (group commit)")
    retry_after_s: int = Field(default=5, ge=1)
    cors_origins: str = Field(default="", description="comma-separated origins allowed to POST from browsers")
    strict: bool = Field(default=False, description="reject event names not in the schema")
    schema_path: Path = Field(default_factory=default_schema_path)

    def parsed_keys(self) -> list[ApiKey]:
        keys = []
        for entry in filter(None, (e.strip() for e in self.api_keys.split(","))):
            name, sep, digest = entry.partition(":sha256:")
            if not sep or len(digest) != 64 or not name:
                raise ValueError(f"API key entry {name or entry[:12]!r} is not `name:sha256:<64 hex>`")
            keys.append(ApiKey(name=name, sha256=digest.lower()))
        if not keys:
            raise ValueError("OBS_INGEST_API_KEYS holds no key")
        return keys

    @model_validator(mode="after")
    def _keys_valid(self) -> "IngestSettings":
        keys = self.parsed_keys()
        env = CommonSettings().env
        if env != "development":
            placeholders = {hash_key(p) for p in PLACEHOLDER_SECRETS}
            bad = [k.name for k in keys if k.sha256 in placeholders]
            if bad:
                raise ValueError(f"placeholder API key for {bad} refused outside development")
        return self

    @field_validator("cors_origins")
    @classmethod
    def _strip(cls, v: str) -> str:
        return v.strip()


class ConsumerSettings(BaseSettings):
    model_config = _settings("OBS_CONSUMER_")
    batch_rows: int = Field(default=50_000, ge=1, description="flush when a batch holds this many rows")
    flush_ms: int = Field(default=500, ge=1, description="flush a non-empty batch after this long")
    prefetch: int = Field(default=2000, ge=1, description="unacknowledged messages the broker may send")
    retry_initial_s: float = Field(default=0.5, gt=0)
    retry_max_s: float = Field(default=30.0, gt=0)
    metrics_host: str = "127.0.0.1"
    metrics_port: int = 9101
    queue_poll_s: float = Field(default=5.0, gt=0, description="how often queue depth is sampled")
    store_client_ip: bool = Field(default=False, description="keep the client IP in events.client_ip and the "
                                  "`$ip` property; by default it is only used to look up the country, then dropped")


def _duration_s(text: str) -> float:
    """`90s`, `15m`, `6h`, `1d`, `2w` or plain seconds."""
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
    text = text.strip().lower()
    if text and text[-1] in units:
        return float(text[:-1]) * units[text[-1]]
    return float(text)


class ForecasterSettings(BaseSettings):
    """Forecaster: Prophet models of business metrics, analytics API, anomaly gauges, report schedule."""

    model_config = _settings("OBS_FORECASTER_")
    host: str = "127.0.0.1"
    port: int = 8090
    metrics: str = Field(default="revenue,orders,dau,signups",
                         description="metrics refreshed on schedule and exported as anomaly gauges "
                                     "(revenue, orders, dau, signups, events:<event_name>)")
    refresh: str = Field(default="revenue=1d,orders=1d,dau=7d,signups=7d,events=1d",
                         description="model refresh interval per metric (`events` covers events:*)")
    retry_s: float = Field(default=600.0, gt=0, description="retry a failed or too-short model after this long")
    evaluate_interval_s: float = Field(default=60.0, gt=0, description="how often the anomaly gauges are updated")
    tick_s: float = Field(default=5.0, gt=0, description="scheduler wake-up period")
    history_days: int = Field(default=365, ge=7, description="daily models look back this far")
    history_hours: int = Field(default=24 * 28, ge=24, description="hourly models look back this far")
    min_history_days: int = Field(default=14, ge=2, description="fewer complete days: 422")
    min_history_hours: int = Field(default=72, ge=2, description="fewer complete hours: 422")
    max_periods_day: int = Field(default=90, ge=1)
    max_periods_hour: int = Field(default=168, ge=1)
    interval_width: float = Field(default=0.95, gt=0, lt=1, description="forecast band (yhat_lower..yhat_upper)")
    seasonality_mode: Literal["additive", "multiplicative"] = "multiplicative"
    uncertainty_samples: int = Field(default=300, ge=10, description="Prophet samples for the band")
    backtest_horizon_days: int = Field(default=14, ge=1, description="holdout of the metadata backtest")
    backtest_horizon_hours: int = Field(default=24, ge=1)
    backtest_folds: int = Field(default=1, ge=0, description="metadata backtest folds per refresh (0: none)")
    payment_window_s: int = Field(default=3600, ge=60, description="window of the payment failure rate gauge")
    churn: bool = Field(default=True, description="score churn monthly (churn_scores table, /v1/churn, gauges)")
    churn_min_users: int = Field(default=50, ge=2, description="fewer active users at a cutoff: no churn model")
    schema_path: Path = Field(default_factory=default_schema_path)

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
    def _valid(self) -> "ForecasterSettings":
        try:
            intervals = self.refresh_intervals()
        except ValueError as exc:
            raise ValueError(f"OBS_FORECASTER_REFRESH: {exc}") from None
        if any(v <= 0 for v in intervals.values()):
            raise ValueError("OBS_FORECASTER_REFRESH: intervals must be positive")
        return self


class ReportSettings(BaseSettings):
    """Scheduled KPI reports by email (`observatory report daily|weekly`; the forecaster sends them on
    schedule when recipients are set). Times are UTC."""

    model_config = _settings("OBS_REPORT_")
    recipients: str = Field(default="", description="comma-separated addresses; empty: no scheduled reports")
    sender: str = "observatory@localhost"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_security: Literal["none", "starttls", "ssl"] = "none"
    smtp_username: str | None = None
    smtp_password: str | None = Field(default=None, description="no default; placeholders refused outside development")
    smtp_timeout_s: float = Field(default=10.0, gt=0)
    daily_at: str = Field(default="07:00", description="HH:MM UTC; empty: no daily report")
    weekly_at: str = Field(default="mon 07:00", description="DAY HH:MM UTC; empty: no weekly report (with PDF)")
    monthly_at: str = Field(default="1 07:00", description="DAY-OF-MONTH HH:MM UTC; empty: no monthly report (PDF "
                            "with year-over-year and churn analysis)")
    forecast_metric: str = "revenue"
    chart_history_days: int = Field(default=28, ge=7)
    chart_forecast_days: int = Field(default=14, ge=1)
    subject_prefix: str = "[Observatory]"

    def recipient_list(self) -> list[str]:
        return [r.strip() for r in self.recipients.split(",") if r.strip()]

    @model_validator(mode="after")
    def _password(self) -> "ReportSettings":
        if self.smtp_password and self.smtp_password.lower() in PLACEHOLDER_SECRETS \
                and CommonSettings().env != "development":
            raise ValueError("placeholder SMTP password refused outside development")
        return self
