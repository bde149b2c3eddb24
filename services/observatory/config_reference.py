"""docs/configuration.md, generated from the settings classes: every setting, its environment
variable, type, default and description (`make config-reference`; `python -m observatory.config_reference`).

tests/config/test_configuration_reference.py fails when the file is stale or a setting has no description.
"""

from __future__ import annotations

import sys
import types
import typing
from pathlib import Path

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings

from observatory import settings as s
from observatory.setup.config import SetupSettings

TITLE = "# Configuration reference"
INTRO = """Every setting is an environment variable. The services read them through the pydantic settings
classes in `services/observatory/settings.py`; this page is generated from those classes
(`make config-reference`) and a test fails when it is stale or a setting has no description.
Compose passes the ones a deployment usually sets from `.env` (`.env.example` lists them); `make
local` passes the user's own `OBS_*` variables to its all-in-one process on top of its own. The
compose stack's provisioning job has its own `OBS_SETUP_*` settings, set by `docker-compose.yml`
(`services/observatory/setup/config.py`), listed last.
"""

# (title, class, what the group is for)
GROUPS: list[tuple[str, type[BaseSettings], str]] = [
    ("Common", s.CommonSettings, "every service: environment, logs, tracing, privacy, proxies"),
    ("Read API keys", s.ApiSettings, "who may use the private listeners' read API"),
    ("RabbitMQ", s.BrokerSettings, "the broker connection and the topology every service declares"),
    ("ClickHouse", s.StoreSettings, "the event store"),
    ("SQL read API", s.QuerySettings, "`POST /v1/query`: its own DSN and the caps on every statement (docs/query.md)"),
    ("Console", s.ConsoleSettings, "the web console on the private listeners (docs/console.md)"),
    ("Ingest", s.IngestSettings, "the public write API (`observatory run ingest`)"),
    ("Consumer", s.ConsumerSettings, "RabbitMQ to ClickHouse (`observatory run consumer`)"),
    ("Forecaster", s.ForecasterSettings, "forecasts, analytics API, anomaly gauges (`observatory run forecaster`)"),
    ("Reports", s.ReportSettings, "scheduled KPI report emails"),
    ("Compose provisioning job", SetupSettings, "the `setup` job of the Docker stack (set by docker-compose.yml)"),
]


def env_name(cls: type[BaseSettings], field: str) -> str:
    return (str(cls.model_config.get("env_prefix", "")) + field).upper()


def _type(annotation: object) -> str:
    if isinstance(annotation, type) and not isinstance(annotation, types.GenericAlias):
        return {
            "str": "text",
            "int": "integer",
            "float": "number",
            "bool": "true/false",
            "Path": "path",
            "SecretStr": "secret",
        }.get(annotation.__name__, annotation.__name__)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type(a) for a in args if a is not type(None)) + " (optional)"
    return str(annotation).replace("typing.", "")


def _default(field: FieldInfo) -> str:
    if field.default_factory is not None:
        return "computed (see description)"
    if field.default is PydanticUndefined:
        return "**required**"
    value = field.default
    if value is None:
        return "unset"
    if value == "":
        return "empty"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, int | float):
        return f"`{value}`"
    if hasattr(value, "get_secret_value"):
        return "(secret)"
    return f"`{value}`"


# variables read outside the settings classes: (variable, default, description)
OTHER: list[tuple[str, str, str]] = [
    ("OBS_ACCESS_LOG", "`true`", "`observatory run ...`: one JSON access-log line per request (false: none)"),
    ("OBS_API_KEY", "empty", "the CLI's ingest key (`observatory send`, `demo`); `make local` uses `.local/api-key`"),
    ("OBS_INGEST_URL", "`http://127.0.0.1:8080`", "where the CLI's `send` and `demo` post events"),
    ("OBS_READ_KEY", "empty", "the CLI's read key (`observatory query`); `make local` uses `.local/read-key`"),
    ("OBS_LOCAL_DIR", "`.local`", "the local stack's folder (state, logs, keys, chDB)"),
    ("OBS_LOCAL_REVIVE_AFTER_S", "`30`", "the local stack restarts a program left FATAL after this long"),
]

# alert channels and links: Alertmanager's receivers and Prometheus's external labels, the same names
# for `make local` (remembered in .local/settings.env) and compose (.env)
ALERTS: list[tuple[str, str]] = [
    ("OBS_SLACK_WEBHOOK_URL", "Slack incoming-webhook URL: warnings, criticals and business alerts"),
    ("OBS_SLACK_WEBHOOK_URL_FILE", "`make local` only: a file holding the webhook URL instead"),
    ("OBS_SMTP_SMARTHOST", "`host:port` of the SMTP server for alert email (with OBS_ALERT_EMAIL_TO)"),
    ("OBS_ALERT_EMAIL_TO", "on-call address for critical alerts (with OBS_SMTP_SMARTHOST)"),
    ("OBS_SMTP_FROM", "From address of alert email; default `observatory-alerts@<smarthost>`"),
    ("OBS_SMTP_USERNAME", "SMTP login; empty: no authentication"),
    ("OBS_SMTP_PASSWORD", "SMTP password (alerts; compose's reports too)"),
    ("OBS_SMTP_PASSWORD_FILE", "`make local` only: a file holding the SMTP password instead"),
    ("OBS_SMTP_REQUIRE_TLS", "STARTTLS required (default true)"),
    ("OBS_PAGERDUTY_ROUTING_KEY", "PagerDuty Events v2 routing key: pages for every critical alert"),
    ("OBS_PAGERDUTY_ROUTING_KEY_FILE", "`make local` only: a file holding the routing key instead"),
    ("OBS_OPSGENIE_API_KEY", "compose: OpsGenie API key: an OpsGenie alert for every critical"),
    ("OBS_GRAFANA_URL", "Grafana as the recipient's browser reaches it: dashboard links in alerts (empty: none)"),
    ("OBS_CONSOLE_URL", "the console as the recipient's browser reaches it: a console link in every alert"),
]


def missing_descriptions() -> list[str]:
    return [
        env_name(cls, name)
        for _, cls, _ in GROUPS
        for name, field in cls.model_fields.items()
        if not (field.description or "").strip()
    ]


def render() -> str:
    out = [TITLE, "", INTRO]
    for title, cls, what in GROUPS:
        out += [f"## {title}", "", f"{what[0].upper()}{what[1:]}.", ""]
        out += ["| variable | type | default | description |", "|---|---|---|---|"]
        for name, field in cls.model_fields.items():
            desc = " ".join((field.description or "").split()).replace("|", "\\|")
            out.append(f"| `{env_name(cls, name)}` | {_type(field.annotation)} | {_default(field)} | {desc} |")
        out.append("")
    out += _local_stack()
    out += [
        "## Alert channels and links",
        "",
        "Read by `make local` (which remembers them in `.local/settings.env`, mode 0600) and by compose",
        "(from `.env`): the same names for both. A channel left empty is removed from every receiver.",
        "",
        "| variable | what |",
        "|---|---|",
        *(f"| `{var}` | {what} |" for var, what in ALERTS),
        "",
        "## Other variables",
        "",
        "| variable | default | what |",
        "|---|---|---|",
        *(f"| `{var}` | {default} | {what} |" for var, default, what in OTHER),
        "",
    ]
    return "\n".join(out).rstrip() + "\n"


def _local_stack() -> list[str]:
    from observatory.localstack import plan

    out = [
        "## Local stack (`make local`)",
        "",
        "Ports of the stack's private programs, all on 127.0.0.1. A port another program holds stops",
        "`make local` with that program's name and pid: set the variable to another port.",
        "",
        "| variable | default | port of |",
        "|---|---|---|",
    ]
    out += [f"| `{var}` | `{default}` | {name.replace('_', ' ')} |" for name, (var, default) in plan.PORTS.items()]
    return [*out, ""]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    missing = missing_descriptions()
    if missing:
        print(f"settings without a description: {', '.join(missing)}", file=sys.stderr)
        return 1
    text = render()
    if argv:
        Path(argv[0]).write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
