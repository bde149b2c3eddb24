"""ManagedProcess, the base of the local servers; the port and pid helpers (observatory.process) and
the bounded wait (observatory.poll) are re-exported here for their callers."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx

from observatory.poll import wait_for  # noqa: F401 - re-exported: the one bounded poll
from observatory.process import free_port, pid_alive, port_open, stop_pid  # noqa: F401 - re-exported


class ManagedProcess:
    """A server run as a child process on a loopback port, ready when `<url><ready_path>` answers 200.

    Subclasses (dataclasses) provide `base`, `port`, `process`, `pid`, `command()` and
    `write_config()`; `file_stem` names their config (`<stem>.yml`) and log (`<stem>.log`) under
    `base`, `display_name` names them in messages."""

    display_name = "server"
    file_stem = "server"
    ready_path = "/-/ready"
    base: Path
    port: int
    process: subprocess.Popen[bytes] | None
    pid: int | None

    def command(self) -> list[str]:
        raise NotImplementedError

    def write_config(self) -> None:
        raise NotImplementedError

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
            self.process = process = subprocess.Popen(
                cmd,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.base,
                start_new_session=detach,
            )
        self.pid = self.process.pid
        wait_for(
            f"{self.display_name} ready at {self.url}{self.ready_path}",
            self.ready,
            timeout_s,
            alive=lambda: process.poll() is None,
            log_hint=f"see {self.log_path}",
        )
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
