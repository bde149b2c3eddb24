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
