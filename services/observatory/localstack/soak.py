"""`make soak`: mixed traffic against a private supervised local stack while random components are
killed with SIGKILL; then every event that got a 2xx must be stored exactly once.

The stack runs in a temporary folder on free loopback ports (a user's `make local` is not touched).
Traffic: several senders, single events and batches, webshop and custom events, a few invalid events
in batches (rejected, not counted) and requests with a wrong key (401). A batch that did not get a 2xx
is retried with the same event ids (as SDKs do), so dedup by `event_id` is exercised too. At the end:
wait until RabbitMQ's events queue is empty, stop the stack, read the embedded store and print
accepted / stored / duplicates / lost. Exit status 1 unless lost and duplicates are both 0.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from observatory.localstack import plan, stack
from observatory.localstack.proc import free_port, wait_for
from observatory.localstack.supervisor import Supervisor
from observatory.store.subprocess_query import query_rows

SOAK_EVENT = "soak_tick"
KILLABLE = ("rabbitmq", "observatory", "prometheus", "alertmanager", "pushgateway", "blackbox", "epmd")


def private_env() -> dict[str, str]:
    """The caller's environment with every local-stack port moved to a free one."""
    return {**os.environ, **{var: str(free_port()) for var, _default in plan.PORTS.values()}}


def _event(rng: random.Random, seq: int) -> dict:
    ev = {
        "event_id": str(uuid.uuid4()),
        "timestamp": datetime.now(UTC).isoformat(),
        "user_id": f"u-{rng.randrange(500)}",
        "session_id": f"s-{rng.randrange(2000)}",
    }
    if rng.random() < 0.3:
        return ev | {"event_name": "user_signup", "properties": {"signup_method": "email", "soak_seq": seq}}
    return ev | {"event_name": SOAK_EVENT, "properties": {"seq": seq, "page": f"/p/{rng.randrange(50)}"}}


@dataclass
class Traffic:
    """Sender threads; `accepted` holds the ids of events that got a 2xx."""

    url: str
    key: str
    senders: int = 3
    seed: int = 1
    accepted: set[str] = field(default_factory=set)
    counts: dict[str, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> Traffic:
        for i in range(self.senders):
            t = threading.Thread(target=self._run, args=(random.Random(self.seed * 1000 + i),), daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=60)

    def _count(self, what: str, n: int = 1) -> None:
        with self._lock:
            self.counts[what] = self.counts.get(what, 0) + n

    def _run(self, rng: random.Random) -> None:
        seq = 0
        with httpx.Client(timeout=10) as http:
            while not self._stop.is_set():
                if rng.random() < 0.02:  # a wrong key: 401, nothing stored
                    self._count(self._post(http, [_event(rng, -1)], "obs_wrong_key"))
                    continue
                size = 1 if rng.random() < 0.4 else rng.randint(2, 50)
                events = []
                for _ in range(size):
                    seq += 1
                    events.append(_event(rng, seq))
                invalid = rng.random() < 0.1 and size > 1
                body = events + ([{"event_name": SOAK_EVENT, "event_id": "not-a-uuid"}] if invalid else [])
                for attempt in range(20):  # retry with the same ids until a 2xx
                    outcome = self._post(http, body, self.key)
                    self._count(outcome)
                    if outcome.startswith("http 2"):
                        with self._lock:
                            self.accepted.update(e["event_id"] for e in events)
                        break
                    if self._stop.wait(min(0.2 * (attempt + 1), 2.0)):
                        break
                time.sleep(rng.uniform(0.005, 0.05))

    def _post(self, http: httpx.Client, body: list[dict], key: str) -> str:
        """`http <status>`, or the transport error (refused while a component restarts, cut by a kill)."""
        try:
            r = http.post(f"{self.url}/v1/events", json=body, headers={"Authorization": f"Bearer {key}"})
            return f"http {r.status_code}"
        except httpx.HTTPError as exc:
            return type(exc).__name__


def kill_and_heal(sup: Supervisor, comps: dict[str, plan.Component], name: str, timeout_s: float = 120.0) -> float:
    """SIGKILL a supervised program; seconds until supervisord runs a new one and it is ready."""
    old = next(p["pid"] for p in sup.processes() if p["name"] == name)
    os.kill(old, signal.SIGKILL)
    t0 = time.monotonic()

    def healed() -> bool:
        info = next(p for p in sup.processes() if p["name"] == name)
        return info["statename"] == "RUNNING" and info["pid"] not in (0, old) and comps[name].ready()

    wait_for(
        f"{name} restarted by supervisord and ready again after kill -9 of pid {old}",
        healed,
        timeout_s,
        interval_s=0.1,
        log_hint=f"see {sup.log_path(name)}",
    )
    return time.monotonic() - t0


def queue_depth(ports: dict[str, int], queue: str = "events") -> int:
    r = httpx.get(
        f"http://127.0.0.1:{ports['rabbitmq_management']}/api/queues/%2F/{queue}", auth=("guest", "guest"), timeout=5
    )
    r.raise_for_status()
    return int(r.json()["messages"])


def wait_drained(ports: dict[str, int], timeout_s: float = 180.0) -> None:
    wait_for(
        "RabbitMQ events queue empty (every message inserted and acked)",
        lambda: queue_depth(ports) == 0,
        timeout_s,
        interval_s=0.5,
    )


def stored_counts(local: Path, event_names: tuple[str, ...] = (SOAK_EVENT, "user_signup")) -> dict[str, int]:
    """event_id -> rows under FINAL, read from the stopped stack's embedded store (a subprocess: chDB
    lets a process open one folder in its life)."""
    names = ", ".join(f"'{n}'" for n in event_names)
    sql = (
        f"SELECT toString(event_id) AS id, count() AS n FROM {{db}}.events FINAL "
        f"WHERE event_name IN ({names}) GROUP BY id"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OBS_")} | {"OBS_LOCAL_DIR": str(local)}
    return {row["id"]: int(row["n"]) for row in query_rows(f"chdb://{local / 'chdb'}", sql, env)}


def verdict(accepted: set[str], stored: dict[str, int]) -> dict[str, int]:
    return {
        "accepted": len(accepted),
        "stored": sum(1 for i in accepted if i in stored),
        "stored_unconfirmed": sum(1 for i in stored if i not in accepted),  # published, but no 2xx seen
        "duplicates": sum(n - 1 for i, n in stored.items() if i in accepted and n > 1),
        "lost": sum(1 for i in accepted if i not in stored),
    }


def run(seconds: float, kill_every_s: float, seed: int, keep: bool) -> int:
    rng = random.Random(seed)
    work = Path(tempfile.mkdtemp(prefix="obs-soak-")).resolve()
    local, env = work / ".local", private_env()
    ports = plan.ports(env)
    print(
        f"soak: private stack in {local} (ingest on 127.0.0.1:{ports['ingest']}), {seconds:.0f}s, "
        f"a kill -9 every ~{kill_every_s:.0f}s, seed {seed}",
        flush=True,
    )
    if stack.up(local, env=env, quiet=True) != 0:
        return 1
    comps = {c.program.name: c for c in plan.prepare(local, ports, env)[0]}
    sup = Supervisor(local, [c.program for c in comps.values()])
    traffic = Traffic(f"http://127.0.0.1:{ports['ingest']}", plan.api_key(local), seed=seed).start()
    heals: list[tuple[str, float]] = []
    bag: list[str] = []  # every component once, in random order, then again: all get killed
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() + kill_every_s < deadline:
            time.sleep(rng.uniform(0.5, 1.5) * kill_every_s)
            if not bag:
                bag = rng.sample(KILLABLE, len(KILLABLE))
            name = bag.pop()
            heals.append((name, kill_and_heal(sup, comps, name)))
            print(
                f"  kill -9 {name:12} healed in {heals[-1][1]:5.1f}s  (accepted so far: {len(traffic.accepted)})",
                flush=True,
            )
        time.sleep(max(0.0, deadline - time.monotonic()))
    finally:
        traffic.stop()
    try:
        wait_drained(ports)
    finally:
        stack.down(local)
    v = verdict(traffic.accepted, stored_counts(local))
    print("\nsoak result")
    for k in ("accepted", "stored", "duplicates", "lost"):
        print(f"  {k:10} {v[k]}")
    print(f"  (also stored: {v['stored_unconfirmed']} events whose request ended without a 2xx, e.g. cut by a kill)")
    print("  responses  " + ", ".join(f"{k}: {n}" for k, n in sorted(traffic.counts.items())))
    if heals:
        print("  heal time  " + ", ".join(f"{n} {s:.1f}s" for n, s in heals))
    ok = v["lost"] == 0 and v["duplicates"] == 0 and v["accepted"] > 0
    print(f"\n{'PASS' if ok else 'FAIL'}: lost {v['lost']}, duplicates {v['duplicates']}")
    if not keep:
        subprocess.run(["rm", "-rf", str(work)], check=False)
    return 0 if ok else 1
