"""What the local stack runs: its ports, the services' settings, and one supervised program per component.

ONE place for the per-service ports and settings: `PORTS` (port name -> environment variable and
default) and `service_env` (the OBS_* settings of the all-in-one process). `prepare()` writes each
component's own config under the stack folder and returns the supervisor programs with their ports
and readiness checks.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import socket
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from observatory.localstack import alerting
from observatory.localstack.exporters import BlackboxExporter, Pushgateway
from observatory.localstack.proc import ManagedProcess, port_open
from observatory.localstack.rabbitmq import SERVER, RabbitNode
from observatory.localstack.supervisor import Program
from observatory.settings import hash_key

# port name -> (environment variable that overrides it, default)
PORTS: dict[str, tuple[str, int]] = {
    "ingest": ("OBS_LOCAL_INGEST_PORT", 8080),
    "private": ("OBS_LOCAL_PRIVATE_PORT", 8081),  # the all-in-one's private listener: read API, /metrics, docs
    "amqp": ("OBS_LOCAL_AMQP_PORT", 5672),
    "rabbitmq_prometheus": ("OBS_LOCAL_RABBITMQ_PROMETHEUS_PORT", 15692),
    "rabbitmq_management": ("OBS_LOCAL_RABBITMQ_MANAGEMENT_PORT", 15672),
    "rabbitmq_dist": ("OBS_LOCAL_RABBITMQ_DIST_PORT", 25672),
    "epmd": ("OBS_LOCAL_EPMD_PORT", 4370),  # a private epmd, not the machine's shared 4369
    "prometheus": ("OBS_LOCAL_PROMETHEUS_PORT", 9090),
    "alertmanager": ("OBS_LOCAL_ALERTMANAGER_PORT", 9093),
    "blackbox": ("OBS_LOCAL_BLACKBOX_PORT", 9115),
    "pushgateway": ("OBS_LOCAL_PUSHGATEWAY_PORT", 9091),
}


def ports(env: Mapping[str, str] = os.environ) -> dict[str, int]:
    return {name: int(env.get(var, default)) for name, (var, default) in PORTS.items()}


def api_key(local: Path) -> str:
    path = local / "api-key"
    if not path.exists():
        path.write_text("obs_dev_" + secrets.token_urlsafe(18) + "\n")
        path.chmod(0o600)
    return path.read_text().strip()


def read_key(local: Path) -> str:
    """The development read key (admin scope) for the private listener, next to the ingest key."""
    path = local / "read-key"
    if not path.exists():
        path.write_text("obs_r_dev_" + secrets.token_urlsafe(18) + "\n")
        path.chmod(0o600)
    return path.read_text().strip()


def service_env(local: Path, node_url: str, ports: Mapping[str, int]) -> dict[str, str]:
    """The all-in-one process's settings (on top of the user's own OBS_* variables)."""
    return {
        "OBS_ENV": "development",
        "OBS_AMQP_URL": node_url,
        "OBS_CLICKHOUSE_DSN": f"chdb://{(local / 'chdb').resolve()}",
        "OBS_INGEST_API_KEYS": f"local-dev:sha256:{hash_key(api_key(local))}",
        "OBS_INGEST_HOST": "127.0.0.1",
        "OBS_INGEST_PORT": str(ports["ingest"]),
        "OBS_INGEST_PRIVATE_HOST": "127.0.0.1",
        "OBS_INGEST_PRIVATE_PORT": str(ports["private"]),
        "OBS_API_KEYS": f"local-dev:sha256:{hash_key(read_key(local))}:admin",
        "OBS_CONSOLE_SESSION_SECRET_FILE": str((local / "console-secret").resolve()),  # made on first start
        "OBS_FORECASTER_ALERTMANAGER_URL": f"http://127.0.0.1:{ports['alertmanager']}",  # /v1/health/summary
    }


@dataclass
class Component:
    program: Program
    ports: list[str]  # names in PORTS this component listens on
    ready_what: str  # what readiness means, for messages
    ready: Callable[[], bool]


def _http_ok(url: str) -> Callable[[], bool]:
    return lambda: httpx.get(url, timeout=2).status_code == 200


def _epmd_answers(port: int) -> bool:
    """epmd's NAMES_REQ (length 1, 'n'): the reply starts with epmd's own port, 4 bytes."""
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        s.sendall(b"\x00\x01n")
        return int.from_bytes(s.recv(4), "big") == port


def readiness(p: Mapping[str, int]) -> dict[str, tuple[str, Callable[[], bool]]]:
    """Program name -> (what readiness means, the check)."""

    def http(what: str, port: str, path: str):
        url = f"http://127.0.0.1:{p[port]}{path}"
        return f"{what} at {url}", _http_ok(url)

    return {
        "epmd": (f"epmd answering on port {p['epmd']}", lambda: _epmd_answers(p["epmd"])),
        "rabbitmq": (
            f"RabbitMQ AMQP port {p['amqp']} and metrics port {p['rabbitmq_prometheus']}",
            lambda: port_open(p["amqp"]) and port_open(p["rabbitmq_prometheus"]),
        ),
        "observatory": http("observatory readiness", "ingest", "/health/ready"),
        "alertmanager": http("Alertmanager", "alertmanager", "/-/ready"),
        "pushgateway": http("Pushgateway", "pushgateway", "/-/ready"),
        "blackbox": http("blackbox exporter", "blackbox", "/-/healthy"),
        "prometheus": http("Prometheus", "prometheus", "/-/ready"),
    }


def _component(program: Program, port_names: list[str], p: Mapping[str, int]) -> Component:
    what, check = readiness(p)[program.name]
    return Component(program, port_names, what, check)


def _digest(*paths: Path) -> str:
    """Goes into a program's environment so that `make local` restarts it when its config file changed."""
    h = hashlib.sha256()
    for p in paths:
        h.update(p.read_bytes() if p.is_file() else b"")
    return h.hexdigest()[:16]


def _managed(name: str, server: ManagedProcess, p: Mapping[str, int], priority: int) -> Component:
    server.base.mkdir(parents=True, exist_ok=True)
    server.write_config()
    env = {"OBS_LOCAL_CONFIG_DIGEST": _digest(server.config_path)}
    return _component(Program(name, server.command(), env, directory=server.base, priority=priority), [name], p)


def rabbit_node(local: Path, p: Mapping[str, int]) -> RabbitNode:
    return RabbitNode(
        local / "rabbitmq",
        amqp_port=p["amqp"],
        dist_port=p["rabbitmq_dist"],
        epmd_port=p["epmd"],
        prometheus_port=p["rabbitmq_prometheus"],
        management_port=p["rabbitmq_management"],
        name="observatory",
        extra_config=["log.file.rotation.size = 10485760", "log.file.rotation.count = 5"],
    )


def _rabbitmq(local: Path, p: Mapping[str, int]) -> list[Component]:
    if not Path(SERVER).exists():
        raise RuntimeError(
            f"RabbitMQ is not installed ({SERVER} missing); install it with: sudo apt-get install -y rabbitmq-server"
        )
    node = rabbit_node(local, p)
    node.write_config()
    env = {k: v for k, v in node.env().items() if k.startswith(("RABBITMQ_", "ERL_")) or k == "HOME"}
    env["RABBITMQ_LOG_BASE"] = str(local / "logs" / "rabbitmq")
    # `detached` makes rabbitmq-server exec the Erlang VM instead of waiting on it from a shell: the
    # supervised pid IS the node, so a kill -9 of the node is seen (and healed) by supervisord
    env["detached"] = "1"
    env["OBS_LOCAL_CONFIG_DIGEST"] = _digest(node.base / "rabbitmq.conf", node.base / "enabled_plugins")
    epmd = shutil.which("epmd") or "/usr/bin/epmd"
    return [
        # the node's epmd runs supervised in the foreground (no `epmd -daemon` orphan left behind)
        _component(
            Program(
                "epmd",
                [epmd, "-port", str(p["epmd"]), "-address", "127.0.0.1"],
                {"ERL_EPMD_PORT": str(p["epmd"])},
                priority=10,
                startsecs=1,
            ),
            ["epmd"],
            p,
        ),
        _component(
            Program("rabbitmq", [SERVER], env, directory=node.base, priority=20, startsecs=5, stopwaitsecs=60),
            ["amqp", "rabbitmq_prometheus", "rabbitmq_management", "rabbitmq_dist"],
            p,
        ),
    ]


def _observatory(local: Path, p: Mapping[str, int], node_url: str, env: Mapping[str, str]) -> Component:
    user = {
        k: v
        for k, v in env.items()
        if k.startswith("OBS_") and not k.startswith(("OBS_LOCAL_",) + alerting.CHANNEL_VARIABLE_PREFIXES)
    }
    ours = service_env(local, node_url, p)
    # what `observatory query|migrate` read to find the local store (the user's own variables stay out)
    (local / "observatory.env").write_text("".join(f"{k}={v}\n" for k, v in sorted(ours.items())))
    settings = {**user, **ours}
    return _component(
        Program(
            "observatory",
            [sys.executable, "-m", "observatory.cli", "run", "all-in-one"],
            settings,
            priority=30,
            startsecs=5,
            stopwaitsecs=40,
        ),
        ["ingest", "private"],
        p,
    )


def prepare(
    local: Path, p: Mapping[str, int], env: Mapping[str, str] = os.environ
) -> tuple[list[Component], list[str]]:
    """Write every component's config under `local`; the components in start order, and the summary
    lines about alert delivery."""
    comps = _rabbitmq(local, p)
    comps.append(_observatory(local, p, rabbit_node(local, p).url, env))
    am, notes = alerting.alertmanager(local, p["alertmanager"], env)
    comps.append(_managed("alertmanager", am, p, 40))
    comps.append(_managed("pushgateway", Pushgateway(local / "pushgateway", port=p["pushgateway"]), p, 40))
    comps.append(_managed("blackbox", BlackboxExporter(local / "blackbox", port=p["blackbox"]), p, 40))
    comps.append(_managed("prometheus", alerting.prometheus(local, p, env), p, 50))
    return comps, notes
