"""Process and port helpers shared by whatever starts local servers (localstack, the alerting rig,
the test sinks): a free loopback port, is a port open, which ports a pid listens on, is a pid alive,
stop a pid or a child process."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import time

import psutil

LOWEST_PORT = 10_000  # below: well-known and registered ports of the stack (8080, 9090, 9093, 5672 ...)


def free_port() -> int:
    """A loopback TCP port nothing is bound to now, picked at random BELOW the kernel's ephemeral
    range (net.ipv4.ip_local_port_range). Ports in that range are also handed out as the local end
    of outgoing connections: with a load beside the tests (a benchmark's thousands of connections),
    a port picked there was taken by some client socket before our server bound it ("address already
    in use", seen in the dashboard rig). Outside the range only another free_port() caller can take
    it, which the random pick makes rare and the readiness checks (listening_ports) catch."""
    low = _ephemeral_low()
    if low - LOWEST_PORT >= 1000:
        for _ in range(200):
            port = random.randrange(LOWEST_PORT, low)
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    with socket.socket() as s:  # no room below the range (an unusual sysctl): the kernel's pick
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ephemeral_low() -> int:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def listening_ports(pid: int, descendants: bool = False) -> set[int]:
    """The TCP ports process `pid` (and with `descendants`, the processes it spawned) listens on;
    none if it is gone. A port picked by free_port() is not reserved until bound: this tells the
    server we started from another process that took the port meanwhile and answers on it."""
    ports: set[int] = set()
    try:
        root = psutil.Process(pid)
        procs = [root, *(root.children(recursive=True) if descendants else [])]
    except psutil.Error:
        return ports
    for proc in procs:
        try:
            conns = proc.net_connections(kind="tcp")
        except psutil.Error:
            continue
        ports.update(c.laddr.port for c in conns if c.status == psutil.CONN_LISTEN)
    return ports


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child counts as gone
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][0] != "Z"
    except OSError:
        return True


def stop_pid(pid: int, timeout_s: float = 20.0, sig: int = signal.SIGTERM) -> bool:
    """Signal a pid and wait for it to go; SIGKILL after the timeout. True if it was running."""
    if not pid_alive(pid):
        return False
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        if not pid_alive(pid):
            return True
        time.sleep(0.1)
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass
    return True


def stop_process(proc: subprocess.Popen, timeout_s: float = 30.0) -> None:
    """Stop a child process started here: SIGTERM, wait up to `timeout_s`, then SIGKILL (and reap)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
