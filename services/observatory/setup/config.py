"""Settings of the setup jobs (OBS_SETUP_*), and where the files they load live."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO = Path(__file__).resolve().parents[3]


def _first_existing(*candidates: Path) -> Path:
    for c in candidates:
        if c.is_dir():
            return c
    return candidates[0]


def default_dashboards_dir() -> Path:
    """dashboards/ of a repository checkout, else the copy in the image."""
    return _first_existing(REPO / "dashboards", Path("/usr/share/observatory/dashboards"))


def default_config_dir() -> Path:
    return _first_existing(REPO / "config", Path("/etc/observatory/config"))


class SetupSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="OBS_SETUP_", extra="ignore")

    timeout_s: float = Field(default=600.0, gt=0, description="how long each target may take to become ready")
    interval_s: float = Field(default=3.0, gt=0, description="pause between readiness probes")
    request_timeout_s: float = Field(
        default=30.0, gt=0, description="timeout of each HTTP request to a provisioned service"
    )

    elasticsearch_url: str = Field(
        default="http://elasticsearch:9200", description="Elasticsearch, as the setup job reaches it"
    )
    elastic_password: SecretStr = Field(description="password of the `elastic` superuser")
    kibana_system_password: SecretStr | None = Field(
        default=None, description="password set for Kibana's `kibana_system` user"
    )
    filebeat_password: SecretStr | None = Field(
        default=None, description="password set for the log shipper's Elasticsearch user"
    )
    logs_reader_password: SecretStr | None = Field(
        default=None, description="password set for Grafana's read-only logs user"
    )
    logs_policy: str = Field(
        default="observatory-logs",
        description="name of the log index lifecycle policy (config/elasticsearch/ilm-policy.json)",
    )
    logs_data_stream: str = Field(
        default="logs-observatory-default", description="the data stream the log shipper writes to"
    )

    kibana_url: str = Field(default="http://kibana:5601", description="Kibana, as the setup job reaches it")
    kibana_data_view_id: str = Field(default="observatory-logs", description="id of the Kibana data view over the logs")
    kibana_data_view_pattern: str = Field(default="logs-*", description="index pattern of that data view")

    grafana_url: str = Field(
        default="http://grafana:3000",
        description="Grafana, as the setup job reaches it (alert links use OBS_GRAFANA_URL instead)",
    )
    grafana_user: str = Field(default="admin", description="Grafana admin user")
    grafana_password: SecretStr | None = Field(default=None, description="Grafana admin password")
    grafana_home_dashboard: str = Field(
        default="observatory-pipeline", description="uid of the dashboard set as Grafana's home"
    )
    grafana_plugin_wait_s: float = Field(
        default=300.0,
        gt=0,
        description="how long Grafana may take to install the provisioned datasources' plugins in the background",
    )

    metabase_url: str = Field(default="http://metabase:3000", description="Metabase, as the setup job reaches it")
    metabase_admin_email: str = Field(
        default="admin@observatory.local", description="the Metabase admin account created on first start"
    )
    metabase_admin_password: SecretStr | None = Field(default=None, description="that account's password")
    metabase_site_name: str = Field(default="Observatory", description="Metabase's site name")
    clickhouse_host: str = Field(
        default="clickhouse", description="ClickHouse host Metabase's database connection uses"
    )
    clickhouse_port: int = Field(default=8123, description="ClickHouse HTTP port for Metabase")
    clickhouse_user: str = Field(default="analyst", description="ClickHouse user for Metabase (read-only `analyst`)")
    clickhouse_password: SecretStr | None = Field(default=None, description="that user's password")
    clickhouse_database: str = Field(default="observatory", description="the database Metabase reads")

    dashboards_dir: Path = Field(
        default_factory=default_dashboards_dir,
        description="the dashboards to provision (dashboards/ of a checkout, else the image's copy)",
    )
    config_dir: Path = Field(
        default_factory=default_config_dir,
        description="the component configs to load (config/ of a checkout, else the image's copy)",
    )


def require(value: SecretStr | None, env: str) -> str:
    from observatory.setup.http import SetupError

    if value is None or not value.get_secret_value():
        raise SetupError(f"{env} is not set (make up writes it to .env)")
    return value.get_secret_value()
