"""Whose is a port, which processes belong to a stack folder.

Every process of a local stack (supervisord, its programs, and what they spawn) carries
`OBS_LOCAL_STACK=<stack folder>` in its environment. That tells our own processes, including orphans
left by a supervisord that was killed, from a foreign program holding a port we want.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import psutil

from observatory.localstack.supervisor import MARKER


def _stack_of(proc: psutil.Process) -> str | None:
    try:
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc.environ().get(MARKER)
    except (psutil.Error, OSError):  # gone meanwhile, or not ours to read
        return None


def stack_processes(local: Path) -> list[psutil.Process]:
    """Every live process of the stack in `local` (supervisord included)."""
    want = str(local)
    return [p for p in psutil.process_iter() if _stack_of(p) == want]


def legacy_processes(local: Path) -> list[psutil.Process]:
    """Processes of a stack started by the launcher before supervision, which kept pids in
    `<local>/state.json` and set no marker: each recorded pid only if it still is that stack's process
    (its command line or environment names the folder: no recycled pid), plus the node's epmd."""
    try:
        state = json.loads((local / "state.json").read_text())
    except (OSError, ValueError):
        return []
    pids = {info.get("pid") for info in state.values() if isinstance(info, dict)}
    needle, found = str(local) + "/", []
    for p in psutil.process_iter():
        try:
            if p.pid not in pids and p.name() != "epmd":
                continue
            if needle in " ".join(p.cmdline()) + " " + " ".join(p.environ().values()) and _stack_of(p) is None:
                found.append(p)
        except (psutil.Error, OSError):
            continue
    return found


def port_listener(port: int) -> int | None:
    """The pid listening on 127.0.0.1/any address at `port`, when this user may know it."""
    for c in psutil.net_connections(kind="tcp"):
        if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid:
            return c.pid
    return None


def describe(pid: int | None) -> str:
    """`name (pid N)` of a port's holder, for the message that names it."""
    if pid is None:
        return "another program (its pid is not visible to this user)"
    try:
        return f"{psutil.Process(pid).name()} (pid {pid})"
    except psutil.Error:
        return f"another program (pid {pid})"


def is_ours(pid: int | None, local: Path) -> bool:
    if pid is None:
        return False
    try:
        return _stack_of(psutil.Process(pid)) == str(local)
    except psutil.Error:
        return False


def terminate(procs: list[psutil.Process], timeout_s: float = 20.0) -> list[str]:
    """SIGTERM the given processes, SIGKILL what is left after `timeout_s`; one line per process."""
    lines = []
    for p in procs:
        try:
            lines.append(f"{p.name()} (pid {p.pid})")
            p.send_signal(signal.SIGTERM)
        except psutil.Error:
            pass
    deadline = time.monotonic() + timeout_s
    _gone, alive = psutil.wait_procs(procs, timeout=max(0.0, deadline - time.monotonic()))
    for p in alive:
        try:
            p.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(alive, timeout=5)
    return lines
