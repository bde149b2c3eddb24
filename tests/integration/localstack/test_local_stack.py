"""The supervised local stack (`make local`), started for real in a temp folder on free ports.

- The local Prometheus scrapes the blackbox exporter's probe of the ingest health endpoint and the
  Pushgateway (a pushed metric keeps its own `job` label: honor_labels).
- Healing: while events flow, kill -9 each component in turn (RabbitMQ node, observatory, Prometheus,
  Alertmanager); supervisord restarts each; then kill -9 supervisord itself and a component and run
  `local up` again, which must succeed. Finally every event that got a 2xx is stored exactly once
  (read from the embedded store after the stack is stopped).
"""

from __future__ import annotations

import os
import time

import httpx
import psutil
import pytest

from observatory.localstack import owners, plan, soak, stack
from observatory.localstack.proc import wait_for
from observatory.localstack.supervisor import Supervisor
from tests.tools import require

TOOLS = [
    require(b)
    for b in ("prometheus", "prometheus-alertmanager", "prometheus-pushgateway", "prometheus-blackbox-exporter")
]
CRASHES = ("rabbitmq", "observatory", "prometheus", "alertmanager")


class LocalStack:
    def __init__(self, local, env) -> None:
        self.local, self.env = local, env
        self.ports = plan.ports(env)
        self.comps = {c.program.name: c for c in plan.prepare(local, self.ports, env)[0]}
        self.sup = Supervisor(local, [c.program for c in self.comps.values()])

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def pid(self, name: str) -> int:
        return next(p["pid"] for p in self.sup.processes() if p["name"] == name)

    def query(self, expr: str) -> list[dict]:
        r = httpx.get(f"{self.url('prometheus')}/api/v1/query", params={"query": expr}, timeout=10)
        r.raise_for_status()
        return r.json()["data"]["result"]


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory):
    local = tmp_path_factory.mktemp("localstack") / ".local"
    env = soak.private_env()
    assert stack.up(local, env=env) == 0, "the local stack did not come up (see the output above)"
    s = LocalStack(local.resolve(), env)
    yield s
    stack.down(s.local)
    assert owners.stack_processes(s.local) == [], "`local down` left processes of the stack running"


def test_local_up_again_changes_nothing_and_status_shows_every_program(local_stack, capsys):
    assert stack.up(local_stack.local, env=local_stack.env) == 0
    out = capsys.readouterr().out
    assert "supervisor: nothing to change" in out
    assert f"Ingest API             {local_stack.url('ingest')}/v1/events" in out
    assert plan.api_key(local_stack.local) in out and plan.read_key(local_stack.local) in out
    assert stack.status(local_stack.local, env=local_stack.env) == 0
    out = capsys.readouterr().out
    for name in ("epmd", "rabbitmq", "observatory", "prometheus", "alertmanager", "pushgateway", "blackbox"):
        line = next(ln for ln in out.splitlines() if ln.startswith(name + " "))
        assert " RUNNING " in line and line.rstrip().endswith("yes"), line
    assert (local_stack.local / "logs" / "observatory.log").exists()


def test_a_changed_config_restarts_only_the_program_it_belongs_to(local_stack, capsys):
    s = local_stack
    before = {name: s.pid(name) for name in ("alertmanager", "observatory", "prometheus", "rabbitmq")}
    env = {**s.env, "OBS_SLACK_WEBHOOK_URL": "https://hooks.example.test/T/B/local"}
    assert stack.up(s.local, env=env) == 0
    out = capsys.readouterr().out
    assert "supervisor: restarted (config changed) alertmanager" in out
    assert "Slack: #alerts-critical" in out
    assert s.pid("alertmanager") != before["alertmanager"]
    assert {n: s.pid(n) for n in ("observatory", "prometheus", "rabbitmq")} == {
        n: before[n] for n in ("observatory", "prometheus", "rabbitmq")
    }
    assert stack.up(s.local, env=s.env, quiet=True) == 0  # and back (Slack off)


def test_the_rabbitmq_node_is_supervised_in_the_foreground_with_its_own_epmd(local_stack):
    import psutil

    s = local_stack
    assert psutil.Process(s.pid("rabbitmq")).name() == "beam.smp"  # not a shell waiting on it
    epmds = [p.pid for p in owners.stack_processes(s.local) if p.name() == "epmd"]
    assert epmds == [s.pid("epmd")], "an epmd outside supervision belongs to the stack"


def test_local_prometheus_scrapes_the_blackbox_probe_and_the_pushgateway(local_stack):
    r = httpx.put(
        f"{local_stack.url('pushgateway')}/metrics/job/nightly_export",
        content=b"# TYPE obs_batch_rows gauge\nobs_batch_rows 4242\n",
        timeout=10,
    )
    r.raise_for_status()

    def jobs_up() -> bool:
        targets = httpx.get(f"{local_stack.url('prometheus')}/api/v1/targets", timeout=10).json()["data"][
            "activeTargets"
        ]
        health = {t["labels"]["job"]: t["health"] for t in targets}
        return all(health.get(job) == "up" for job in ("blackbox", "pushgateway", "all-in-one"))

    wait_for(
        "the blackbox, pushgateway and all-in-one (private /metrics) targets up in the local Prometheus", jobs_up, 60
    )

    # the series the repo's EndpointDown rule (critical for ingest) selects
    selector = 'probe_success{job="blackbox", service="ingest"}'
    wait_for("probe_success of the ingest health endpoint", lambda: local_stack.query(selector), 60)
    (probe,) = local_stack.query(selector)
    assert probe["metric"]["instance"] == f"{local_stack.url('ingest')}/health/ready"
    assert probe["value"][1] == "1"

    wait_for("the pushed metric in the local Prometheus", lambda: local_stack.query("obs_batch_rows"), 60)
    (pushed,) = local_stack.query("obs_batch_rows")
    assert pushed["metric"]["job"] == "nightly_export"  # honor_labels: not exported_job
    assert pushed["value"][1] == "4242"


def test_every_component_heals_after_kill_9_and_accepted_events_are_stored_once(local_stack, capsys):
    s = local_stack
    traffic = soak.Traffic(s.url("ingest"), plan.api_key(s.local), senders=2).start()
    heals = {}
    try:
        wait_for("first events accepted", lambda: len(traffic.accepted) > 50, 60)
        for name in CRASHES:
            before = len(traffic.accepted)
            heals[name] = soak.kill_and_heal(s.sup, s.comps, name)
            wait_for(
                f"events accepted again after {name} came back",
                lambda before=before: len(traffic.accepted) > before + 50,
                90,
            )

        # `make local` again right after a crash: the component is being restarted by supervisord
        os.kill(s.pid("observatory"), 9)
        assert stack.up(s.local, env=s.env, quiet=True) == 0, capsys.readouterr().err
        # a crash of supervisord itself leaves its programs orphaned; with the node killed too
        os.kill(s.sup.pid(), 9)
        wait_for("supervisord gone", lambda: s.sup.pid() is None, 10)
        os.kill(next(p.pid for p in owners.stack_processes(s.local) if p.name() == "beam.smp"), 9)
        t0 = time.monotonic()
        assert stack.up(s.local, env=s.env, quiet=True) == 0, capsys.readouterr().err
        heals["supervisord+rabbitmq (local up)"] = time.monotonic() - t0
        assert stack.status(s.local, env=s.env) == 0
        before = len(traffic.accepted)
        wait_for("events accepted after the re-run of local up", lambda: len(traffic.accepted) > before + 50, 90)
    finally:
        traffic.stop()
    print("\nheal times: " + ", ".join(f"{n} {t:.1f}s" for n, t in heals.items()))
    print("responses: " + ", ".join(f"{k}: {n}" for k, n in sorted(traffic.counts.items())))

    soak.wait_drained(s.ports)
    stack.down(s.local)
    assert owners.stack_processes(s.local) == []
    stored = soak.stored_counts(s.local)
    lost = [i for i in traffic.accepted if i not in stored]
    twice = {i: n for i, n in stored.items() if i in traffic.accepted and n != 1}
    print(
        f"accepted {len(traffic.accepted)}, stored {len(traffic.accepted) - len(lost)}, lost {len(lost)}, "
        f"duplicates {len(twice)}"
    )
    assert not lost, f"{len(lost)} of {len(traffic.accepted)} accepted events are not stored, e.g. {lost[:3]}"
    assert not twice, f"accepted events stored more than once: {list(twice.items())[:3]}"


def test_a_port_held_by_a_foreign_program_is_named(tmp_path, capsys):
    import socket

    env = soak.private_env()
    with socket.socket() as foreign:
        foreign.bind(("127.0.0.1", int(env["OBS_LOCAL_PROMETHEUS_PORT"])))
        foreign.listen()
        assert stack.up(tmp_path / ".local", env=env) == 1
    err = capsys.readouterr().err
    port = env["OBS_LOCAL_PROMETHEUS_PORT"]
    me = f"{psutil.Process().name()} (pid {os.getpid()})"  # this test process holds the port
    assert (
        f"port {port} (prometheus, for prometheus) is taken by {me}; set OBS_LOCAL_PROMETHEUS_PORT to another port"
        in err
    )
    assert owners.stack_processes((tmp_path / ".local").resolve()) == []
