"""`make local`: RabbitMQ and observatory all-in-one (ingest + consumer over embedded ClickHouse)
as background processes on loopback, state in `.local/`. Safe to re-run; `down` stops exactly the
processes recorded in `.local/state.json`.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import httpx

from observatory.localstack import alerting
from observatory.localstack.proc import pid_alive, port_open, stop_pid, wait_for
from observatory.localstack.rabbitmq import RabbitNode
from observatory.settings import hash_key

NOT_HERE = ("Grafana, Kibana, Elasticsearch, Jaeger and Metabase need Docker: run `make up` on a "
            "machine with a Docker engine for the full stack.")


def _ports() -> dict[str, int]:
    env = os.environ
    return {
        "ingest": int(env.get("OBS_LOCAL_INGEST_PORT", 8080)),
        "private": int(env.get("OBS_LOCAL_PRIVATE_PORT", 8081)),   # read API, /metrics, docs
        "amqp": int(env.get("OBS_LOCAL_AMQP_PORT", 5672)),
        "rabbitmq_prometheus": int(env.get("OBS_LOCAL_RABBITMQ_PROMETHEUS_PORT", 15692)),
        "rabbitmq_management": int(env.get("OBS_LOCAL_RABBITMQ_MANAGEMENT_PORT", 15672)),
        "prometheus": int(env.get("OBS_LOCAL_PROMETHEUS_PORT", 9090)),
        "alertmanager": int(env.get("OBS_LOCAL_ALERTMANAGER_PORT", 9093)),
    }


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


def service_env(local: Path, node_url: str, ports: dict[str, int]) -> dict[str, str]:
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
    }


def _load(local: Path) -> dict:
    try:
        return json.loads((local / "state.json").read_text())
    except (OSError, ValueError):
        return {}


def _save(local: Path, state: dict) -> None:
    (local / "state.json").write_text(json.dumps(state, indent=2))


def _alive(state: dict, name: str) -> bool:
    pid = state.get(name, {}).get("pid")
    return bool(pid and pid_alive(pid))


def up(local: Path) -> int:
    local = local.resolve()
    local.mkdir(parents=True, exist_ok=True)
    (local / "logs").mkdir(exist_ok=True)
    ports = _ports()
    state = _load(local)

    # RabbitMQ -------------------------------------------------------------------------------------
    node = RabbitNode(local / "rabbitmq", amqp_port=ports["amqp"], prometheus_port=ports["rabbitmq_prometheus"],
                      management_port=ports["rabbitmq_management"], name="observatory",
                      **({k: state["rabbitmq"][k] for k in ("dist_port", "epmd_port")} if "rabbitmq" in state else {}))
    if _alive(state, "rabbitmq") and node.running():
        print(f"RabbitMQ already running (pid {state['rabbitmq']['pid']})")
    else:
        for name, port in (("AMQP", ports["amqp"]), ("ingest", ports["ingest"])):
            if port_open(port):
                print(f"error: port {port} ({name}) is taken by another program; set OBS_LOCAL_"
                      f"{'AMQP' if name == 'AMQP' else 'INGEST'}_PORT to a free one", file=sys.stderr)
                return 1
        print(f"starting RabbitMQ on 127.0.0.1:{ports['amqp']} ...", flush=True)
        try:
            node.start(timeout_s=90, detach=True)
        except (RuntimeError, TimeoutError) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        state["rabbitmq"] = {"pid": node._beam_pid() or node.pid, "dist_port": node.dist_port,
                             "epmd_port": node.epmd_port, "base": str(node.base)}
        _save(local, state)

    # observatory all-in-one -------------------------------------------------------------------------
    settings_env = service_env(local, node.url, ports)
    env = {**os.environ, **settings_env}
    (local / "observatory.env").write_text("".join(f"{k}={v}\n" for k, v in sorted(settings_env.items())))
    if _alive(state, "observatory"):
        print(f"observatory all-in-one already running (pid {state['observatory']['pid']})")
    else:
        print(f"starting observatory all-in-one on 127.0.0.1:{ports['ingest']} ...", flush=True)
        log = open(local / "logs" / "observatory.log", "ab")
        proc = subprocess.Popen([sys.executable, "-m", "observatory.cli", "run", "all-in-one"], env=env,
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True)
        state["observatory"] = {"pid": proc.pid}
        _save(local, state)
    ingest = f"http://127.0.0.1:{ports['ingest']}"
    try:
        wait_for(f"observatory readiness at {ingest}/health/ready",
                 lambda: httpx.get(f"{ingest}/health/ready", timeout=2).status_code == 200, 90,
                 alive=lambda: _alive(state, "observatory"), log_hint=f"see {local / 'logs' / 'observatory.log'}")
    except (RuntimeError, TimeoutError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1

    # Prometheus + Alertmanager (the repo's rules and routing tree) ----------------------------------------
    try:
        alert_notes = alerting.up(local, ports, state, lambda: _save(local, state))
    except (RuntimeError, TimeoutError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    _print_summary(local, ports, alert_notes)
    return 0


def _print_summary(local: Path, ports: dict[str, int], alert_notes: list[str] = ()) -> None:
    rows = [
        ("Ingest API", f"http://127.0.0.1:{ports['ingest']}/v1/events"),
        ("API docs (OpenAPI)", f"http://127.0.0.1:{ports['private']}/docs  (private listener)"),
        ("Health / metrics", f"http://127.0.0.1:{ports['ingest']}/health/ready  "
                             f"http://127.0.0.1:{ports['private']}/metrics"),
        ("RabbitMQ management", f"http://127.0.0.1:{ports['rabbitmq_management']}  (guest/guest, loopback only)"),
        ("RabbitMQ metrics", f"http://127.0.0.1:{ports['rabbitmq_prometheus']}/metrics"),
        ("KPIs and forecasts", f"http://127.0.0.1:{ports['private']}/v1/analytics  /v1/forecast/revenue  "
                               "(Authorization: Bearer <read key>)"),
        ("ClickHouse (embedded)", f"{(local / 'chdb')}  (SQL via `make query` once the stack is stopped)"),
        ("Prometheus", f"http://127.0.0.1:{ports['prometheus']}  (rules: alert-rules/*.rules.yml)"),
        ("Alertmanager", f"http://127.0.0.1:{ports['alertmanager']}"),
        ("Logs", str(local / "logs")),
    ]
    width = max(len(r[0]) for r in rows)
    print("\nObservatory local stack is up\n")
    for name, where in rows:
        print(f"  {name.ljust(width)}  {where}")
    for note in alert_notes:
        print(f"  {'alerts'.ljust(width)}  {note}")
    print(f"\n  development ingest (write-only) key ({local / 'api-key'}):\n    {api_key(local)}")
    print(f"  development read key, admin scope ({local / 'read-key'}):\n    {read_key(local)}\n")
    print("  try:  .venv/bin/observatory send user_signup -p signup_method=email")
    print("        .venv/bin/observatory demo --days 30 --rate 20")
    print("  stop: make local-down\n")
    print(f"  note: {NOT_HERE}\n")


def down(local: Path) -> int:
    local = local.resolve()
    state = _load(local)
    if not state:
        print("local stack is not running (no .local/state.json)")
        return 0
    for line in alerting.down(state):
        print(line)
    if "observatory" in state:
        stopped = stop_pid(state["observatory"]["pid"], timeout_s=40)
        print("stopped observatory all-in-one" if stopped else "observatory all-in-one was not running")
    if "rabbitmq" in state:
        r = state["rabbitmq"]
        node = RabbitNode(Path(r["base"]), amqp_port=_ports()["amqp"], dist_port=r["dist_port"],
                          epmd_port=r["epmd_port"], name="observatory")
        node.pid = r["pid"]
        node.stop()
        print("stopped RabbitMQ")
    (local / "state.json").unlink(missing_ok=True)
    return 0


def status(local: Path) -> int:
    state = _load(local.resolve())
    if not state:
        print("local stack is not running")
        return 1
    for name, info in state.items():
        print(f"{name:12} pid {info.get('pid')}  {'running' if _alive(state, name) else 'STOPPED'}")
    return 0 if all(_alive(state, n) for n in state) else 1
