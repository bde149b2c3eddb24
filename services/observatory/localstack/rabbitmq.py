"""A private RabbitMQ node (Debian's rabbitmq-server) as a plain process on loopback ports.

Everything lives under one folder: config, data (mnesia), logs, pid file, enabled plugins, and a
private epmd on its own port, so several nodes (tests, `make local`) never see each other.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from observatory.localstack.proc import free_port, pid_alive, port_open, stop_pid, wait_for

SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
INSTALL_HINT = "install it with: sudo apt-get install -y rabbitmq-server"


@dataclass
class RabbitNode:
    base: Path
    amqp_port: int = field(default_factory=free_port)
    dist_port: int = field(default_factory=free_port)
    epmd_port: int = field(default_factory=free_port)
    prometheus_port: int = field(default_factory=free_port)
    management_port: int | None = None
    name: str = "obs"
    process: subprocess.Popen | None = None
    pid: int | None = None
    extra_config: list[str] = field(default_factory=list)  # more rabbitmq.conf lines (e.g. log rotation)

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.amqp_port}/%2F"

    @property
    def nodename(self) -> str:
        return f"{self.name}{self.amqp_port}@localhost"

    def env(self) -> dict[str, str]:
        b = self.base
        return {
            **os.environ,
            "RABBITMQ_NODENAME": self.nodename,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.amqp_port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_CONFIG_FILE": str(b / "rabbitmq"),  # .conf is appended
            "RABBITMQ_MNESIA_BASE": str(b / "mnesia"),
            "RABBITMQ_LOG_BASE": str(b / "log"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(b / "enabled_plugins"),
            "RABBITMQ_PID_FILE": str(b / "rabbitmq.pid"),
            "HOME": str(b),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
        }

    def write_config(self) -> None:
        self.base.mkdir(parents=True, exist_ok=True)
        for sub in ("mnesia", "log"):
            (self.base / sub).mkdir(exist_ok=True)
        plugins = ["rabbitmq_prometheus"] + (["rabbitmq_management"] if self.management_port else [])
        (self.base / "enabled_plugins").write_text(f"[{','.join(plugins)}].\n")
        lines = [
            "loopback_users.guest = true",
            f"prometheus.tcp.port = {self.prometheus_port}",
            "prometheus.tcp.ip = 127.0.0.1",
            "log.file.level = info",
            "log.console = false",
            # the local node shares the machine with everything else: keep its alarms sane
            "vm_memory_high_watermark.relative = 0.4",
            "disk_free_limit.absolute = 200MB",
        ]
        if self.management_port:
            lines += [f"management.tcp.port = {self.management_port}", "management.tcp.ip = 127.0.0.1"]
        lines += self.extra_config
        (self.base / "rabbitmq.conf").write_text("\n".join(lines) + "\n")

    def start(self, timeout_s: float = 60.0, detach: bool = False) -> RabbitNode:
        if not Path(SERVER).exists():
            raise RuntimeError(f"RabbitMQ is not installed ({SERVER} missing); {INSTALL_HINT}")
        self.write_config()
        out = open(self.base / "log" / "stdout.log", "ab")
        self.process = process = subprocess.Popen(
            [SERVER],
            env=self.env(),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=detach,
        )
        self.pid = self.process.pid
        hint = f"see {self.base / 'log'}"
        wait_for(
            f"RabbitMQ AMQP port {self.amqp_port}",
            lambda: port_open(self.amqp_port),
            timeout_s,
            alive=lambda: process.poll() is None,
            log_hint=hint,
        )
        wait_for(
            f"RabbitMQ Prometheus port {self.prometheus_port}",
            lambda: port_open(self.prometheus_port),
            timeout_s,
            alive=lambda: process.poll() is None,
            log_hint=hint,
        )
        return self

    def _beam_pid(self) -> int | None:
        try:
            return int((self.base / "rabbitmq.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def _epmd_pids(self) -> list[int]:
        out = subprocess.run(
            ["pgrep", "-f", f"epmd.*-port {self.epmd_port}|epmd -daemon"],
            capture_output=True,
            text=True,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        ).stdout.split()
        pids = []
        for pid in map(int, out):
            try:
                env = Path(f"/proc/{pid}/environ").read_bytes()
            except OSError:
                continue
            if f"ERL_EPMD_PORT={self.epmd_port}".encode() in env:
                pids.append(pid)
        return pids

    def stop(self, timeout_s: float = 30.0) -> None:
        """SIGTERM the node (pid read first: the pid file vanishes at shutdown), then its epmd."""
        beam = self._beam_pid()
        for pid in filter(None, {beam, self.pid}):
            stop_pid(pid, timeout_s)
        if self.process is not None:
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
        # the node's epmd may outlive it for a moment (or appear late): look for it a few times
        deadline = time.monotonic() + 3
        while True:
            pids = self._epmd_pids()
            for pid in pids:
                stop_pid(pid, 5)
            if time.monotonic() > deadline:
                break
            time.sleep(0.3)

    def running(self) -> bool:
        pid = self._beam_pid() or self.pid
        return bool(pid and pid_alive(pid) and port_open(self.amqp_port))

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)
