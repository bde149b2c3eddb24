"""`make local`: the local stack (RabbitMQ, observatory all-in-one over embedded ClickHouse, Prometheus,
Alertmanager, Pushgateway, blackbox exporter) under supervisord, everything in the stack folder
(`.local/`): configs, data, logs (rotated) under `logs/`, supervisord's pidfile and socket under
`supervisor/`.

`up` writes the configs and either starts supervisord or reconciles the running one (`update`, and
start what is stopped or FATAL), then waits for every component's readiness. It is safe to re-run at
any time, after any crash: a killed component is restarted by supervisord itself; orphans of a killed
supervisord are recognised as the stack's own (see `owners`) and replaced. `down` stops exactly this
stack; `status` shows every program's state, uptime and readiness.
"""

from __future__ import annotations

import os
import sys
import time
import xmlrpc.client
from pathlib import Path

from observatory.localstack import alerting, owners, plan
from observatory.localstack.plan import Component
from observatory.localstack.proc import port_open
from observatory.localstack.supervisor import Supervisor

NOT_HERE = (
    "Grafana, Kibana, Elasticsearch, Jaeger and Metabase need Docker: run `make up` on a "
    "machine with a Docker engine for the full stack."
)
READY_TIMEOUT_S = 120.0
api_key, read_key = plan.api_key, plan.read_key  # kept importable from here (their former home)


def _supervisor(local: Path, comps: list[Component]) -> Supervisor:
    return Supervisor(local, [c.program for c in comps])


def foreign_ports(local: Path, comps: list[Component], ports: dict[str, int]) -> list[str]:
    """One error line per port held by a program that is not this stack's."""
    errors = []
    for c in comps:
        for name in c.ports:
            port = ports[name]
            pid = owners.port_listener(port)
            if pid is None and not port_open(port):
                continue
            if not owners.is_ours(pid, local):
                errors.append(
                    f"port {port} ({name}, for {c.program.name}) is taken by {owners.describe(pid)}; "
                    f"set {plan.PORTS[name][0]} to another port (nothing was stopped)"
                )
    return errors


def wait_ready(sup: Supervisor, comps: list[Component], timeout_s: float = READY_TIMEOUT_S) -> None:
    """Every component ready, or an error naming the first that is not (FATAL ones at once)."""
    deadline = time.monotonic() + timeout_s
    for c in comps:
        while True:
            try:
                if c.ready():
                    break
            except Exception:  # noqa: BLE001 - a failing probe means "not yet"
                pass
            state = next((p["statename"] for p in sup.processes() if p["name"] == c.program.name), "UNKNOWN")
            if state == "FATAL":
                raise RuntimeError(
                    f"{c.program.name} keeps exiting at start (FATAL); see {sup.log_path(c.program.name)}"
                )
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"timed out after {timeout_s:.0f}s waiting for {c.ready_what} "
                    f"({c.program.name} is {state}); see {sup.log_path(c.program.name)}"
                )
            time.sleep(0.3)


def up(local: Path, env=os.environ, quiet: bool = False) -> int:
    local = local.resolve()
    local.mkdir(parents=True, exist_ok=True)
    ports = plan.ports(env)
    env, remembered = alerting.remember(local, env)  # alert channels and links, kept in .local/settings.env
    try:
        comps, alert_notes = plan.prepare(local, ports, env)
        alert_notes += remembered
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    sup = _supervisor(local, comps)
    sup.write()
    legacy = owners.legacy_processes(local)
    if legacy:  # a stack started before supervision: stop it, supervisord takes over from here
        print("stopping the previous (unsupervised) local stack: " + ", ".join(owners.terminate(legacy, 60)))
    (local / "state.json").unlink(missing_ok=True)
    errors = foreign_ports(local, comps, ports)
    deadline = time.monotonic() + 10
    while errors and time.monotonic() < deadline:  # a process killed a moment ago may still hold its port
        time.sleep(0.5)
        errors = foreign_ports(local, comps, ports)
    if errors:
        for e in errors:
            print(f"error: {e}", file=sys.stderr)
        return 1
    try:
        if sup.running():
            for line in sup.reconcile() or ["nothing to change"]:
                print(f"supervisor: {line}")
        else:
            stale = owners.stack_processes(local)
            if stale:  # a supervisord that was killed left its programs running: replace them
                print("stopping leftovers of a previous run: " + ", ".join(owners.terminate(stale)))
            print(f"starting the stack under supervisord ({sup.conf}) ...", flush=True)
            sup.start()
        wait_ready(sup, comps)
    except (RuntimeError, TimeoutError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (OSError, xmlrpc.client.Error) as exc:
        print(
            f"error: supervisord ({sup.conf}) is not answering as expected: {exc}; see {sup.logs / 'supervisord.log'}",
            file=sys.stderr,
        )
        return 1
    if not quiet:
        _print_summary(local, ports, alert_notes, sup)
    return 0


def _print_summary(local: Path, ports: dict[str, int], alert_notes: list[str], sup: Supervisor) -> None:
    rows = [
        ("Ingest API", f"http://127.0.0.1:{ports['ingest']}/v1/events"),
        ("API docs (OpenAPI)", f"http://127.0.0.1:{ports['private']}/docs  (private listener)"),
        (
            "Health / metrics",
            f"http://127.0.0.1:{ports['ingest']}/health/ready  http://127.0.0.1:{ports['private']}/metrics",
        ),
        ("RabbitMQ management", f"http://127.0.0.1:{ports['rabbitmq_management']}  (guest/guest, loopback only)"),
        ("RabbitMQ metrics", f"http://127.0.0.1:{ports['rabbitmq_prometheus']}/metrics"),
        (
            "KPIs and forecasts",
            f"http://127.0.0.1:{ports['private']}/v1/analytics  /v1/forecast/revenue  "
            "(Authorization: Bearer <read key>)",
        ),
        ("Web console", f"http://127.0.0.1:{ports['private']}/console/  (sign in with the read key below)"),
        ("ClickHouse (embedded)", f"{(local / 'chdb')}  (`observatory query SQL`: through the read API while it runs)"),
        ("Prometheus", f"http://127.0.0.1:{ports['prometheus']}  (rules: alert-rules/*.rules.yml)"),
        ("Alertmanager", f"http://127.0.0.1:{ports['alertmanager']}"),
        ("Pushgateway", f"http://127.0.0.1:{ports['pushgateway']}  (batch jobs push here; scraped with honor_labels)"),
        ("Blackbox exporter", f"http://127.0.0.1:{ports['blackbox']}  (probes the ingest health endpoint)"),
        ("Logs (rotated)", str(local / "logs")),
        ("Supervisor", f"make local-status  |  .venv/bin/supervisorctl -c {sup.conf} <command>"),
    ]
    width = max(len(r[0]) for r in rows)
    print("\nObservatory local stack is up (supervised: a crashed component restarts by itself)\n")
    for name, where in rows:
        print(f"  {name.ljust(width)}  {where}")
    for note in alert_notes:
        print(f"  {'alerts'.ljust(width)}  {note}")
    print(f"\n  development ingest (write-only) key ({local / 'api-key'}):\n    {plan.api_key(local)}")
    print(f"  development read key, admin scope ({local / 'read-key'}):\n    {plan.read_key(local)}\n")
    print("  try:  .venv/bin/observatory send user_signup -p signup_method=email")
    print("        .venv/bin/observatory demo --days 30 --rate 20")
    print("  stop: make local-down\n")
    print(f"  note: {NOT_HERE}\n")


def down(local: Path) -> int:
    local = local.resolve()
    sup = Supervisor(local, [])
    stopped = sup.shutdown(timeout_s=150)
    if stopped:
        print("stopped the local stack (supervisord and every program)")
    leftovers = owners.stack_processes(local)  # orphans of a killed supervisord, a stray epmd
    if leftovers:
        print("stopped leftovers: " + ", ".join(owners.terminate(leftovers)))
    elif not stopped:
        print("local stack is not running")
    sup.pidfile.unlink(missing_ok=True)
    return 0


def status(local: Path, env=os.environ) -> int:
    """Every program's state, pid, uptime and readiness; exit 0 only if all are running and ready."""
    local = local.resolve()
    sup = Supervisor(local, [])
    if not sup.running():
        stray = owners.stack_processes(local)
        print(
            "local stack is not running (supervisord is not)"
            + (
                f"; leftovers: {', '.join(f'{p.name()} (pid {p.pid})' for p in stray)} (`make local` replaces them)"
                if stray
                else ""
            )
        )
        return 1
    ready = plan.readiness(plan.ports(env))
    ok = True
    print(f"{'program':13} {'state':9} {'pid':>8}  {'uptime':>9}  ready")
    for p in sup.processes():
        up_s = int(p["now"] - p["start"]) if p["statename"] == "RUNNING" else 0
        uptime = f"{up_s // 3600}:{up_s // 60 % 60:02d}:{up_s % 60:02d}" if up_s else "-"
        check = ready.get(p["name"])
        r = "-" if check is None else ("yes" if _safe(check[1]) else "NO")
        ok &= p["statename"] == "RUNNING" and r != "NO"
        print(f"{p['name']:13} {p['statename']:9} {p['pid'] or '-':>8}  {uptime:>9}  {r}")
    print(f"\nlogs: {sup.logs}")
    return 0 if ok else 1


def _safe(check) -> bool:
    try:
        return bool(check())
    except Exception:  # noqa: BLE001
        return False
