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
    request_timeout_s: float = Field(default=30.0, gt=0)

    elasticsearch_url: str = "http://elasticsearch:9200"
    elastic_password: SecretStr = Field(description="password of the `elastic` superuser")
    kibana_system_password: SecretStr | None = None
    filebeat_password: SecretStr | None = None
    logs_reader_password: SecretStr | None = None
    logs_policy: str = "observatory-logs"
    logs_data_stream: str = "logs-observatory-default"

    kibana_url: str = "http://kibana:5601"
    kibana_data_view_id: str = "observatory-logs"
    kibana_data_view_pattern: str = "logs-*"

    grafana_url: str = "http://grafana:3000"
    grafana_user: str = "admin"
    grafana_password: SecretStr | None = None
    grafana_home_dashboard: str = "observatory-pipeline"
    grafana_plugin_wait_s: float = Field(
        default=300.0,
        gt=0,
        description="how long Grafana may take to install the provisioned datasources' plugins in the background",
    )

    metabase_url: str = "http://metabase:3000"
    metabase_admin_email: str = "admin@observatory.local"
    metabase_admin_password: SecretStr | None = None
    metabase_site_name: str = "Observatory"
    clickhouse_host: str = "clickhouse"
    clickhouse_port: int = 8123
    clickhouse_user: str = "analyst"
    clickhouse_password: SecretStr | None = None
    clickhouse_database: str = "observatory"

    dashboards_dir: Path = Field(default_factory=default_dashboards_dir)
    config_dir: Path = Field(default_factory=default_config_dir)


def require(value: SecretStr | None, env: str) -> str:
    from observatory.setup.http import SetupError

    if value is None or not value.get_secret_value():
        raise SetupError(f"{env} is not set (make up writes it to .env)")
    return value.get_secret_value()
