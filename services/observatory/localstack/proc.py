"""Shared helpers for local servers: free ports, bounded waits, stopping by pid."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

from observatory.poll import wait_for  # noqa: F401 - re-exported: the one bounded poll


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


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


class ManagedProcess:
    """A server run as a child process on a loopback port, ready when `<url><ready_path>` answers 200.

    Subclasses (dataclasses) provide `base`, `port`, `process`, `pid`, `command()` and
    `write_config()`; `file_stem` names their config (`<stem>.yml`) and log (`<stem>.log`) under
    `base`, `display_name` names them in messages."""

    display_name = "server"
    file_stem = "server"
    ready_path = "/-/ready"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def config_path(self) -> Path:
        return self.base / f"{self.file_stem}.yml"

    @property
    def log_path(self) -> Path:
        return self.base / f"{self.file_stem}.log"

    def start(self, timeout_s: float = 30.0, detach: bool = False):
        self.base.mkdir(parents=True, exist_ok=True)
        self.write_config()
        cmd = self.command()
        with open(self.log_path, "ab") as out:  # the child keeps its own copy
            self.process = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            cwd=self.base, start_new_session=detach)
        self.pid = self.process.pid
        wait_for(f"{self.display_name} ready at {self.url}{self.ready_path}", self.ready, timeout_s,
                 alive=lambda: self.process.poll() is None, log_hint=f"see {self.log_path}")
        return self

    def ready(self) -> bool:
        return httpx.get(f"{self.url}{self.ready_path}", timeout=2).status_code == 200

    def running(self) -> bool:
        return bool(self.pid and pid_alive(self.pid))

    def stop(self, timeout_s: float = 20.0) -> None:
        if self.pid:
            stop_pid(self.pid, timeout_s)
        if self.process is not None:
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
