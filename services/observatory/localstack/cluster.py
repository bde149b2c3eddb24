"""A RabbitMQ cluster of private nodes on loopback (Debian's rabbitmq-server), and rabbitmqctl.

Each node is a localstack.rabbitmq.RabbitNode under its own folder; the cluster's nodes share one
private epmd port and one Erlang cookie (so they see each other and nothing else) and are joined
with `rabbitmqctl join_cluster`. Used by the tests and `make bench` to kill a node (e.g. the one
leading the events quorum queue) and watch the pipeline fail over.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from observatory.localstack.proc import free_port, pid_alive, wait_for
from observatory.localstack.rabbitmq import RabbitNode

CTL = "/usr/lib/rabbitmq/bin/rabbitmqctl"


@dataclass
class ConfiguredNode(RabbitNode):
    """A RabbitNode (extra rabbitmq.conf lines: RabbitNode.extra_config) with, for clustering, a given
    Erlang cookie."""

    cookie: str | None = None

    def write_config(self) -> None:
        super().write_config()
        if self.cookie:
            path = self.base / ".erlang.cookie"  # HOME is the node's folder
            if path.exists():
                path.chmod(0o600)
            path.write_text(self.cookie)
            path.chmod(0o400)


def ctl(node: RabbitNode, *args: str, timeout_s: float = 60.0, check: bool = True) -> str:
    """Run rabbitmqctl against `node` (its env carries the private epmd port and cookie)."""
    out = subprocess.run(
        [CTL, "-n", node.nodename, *args], env=node.env(), capture_output=True, text=True, timeout=timeout_s
    )
    if check and out.returncode != 0:
        raise RuntimeError(
            f"rabbitmqctl {' '.join(args)} on {node.nodename} failed: {(out.stderr or out.stdout).strip()[-800:]}"
        )
    return out.stdout


class RabbitCluster:
    """`size` private nodes on loopback joined into one cluster."""

    def __init__(self, base: Path, size: int = 3, name: str = "clu", extra_config: list[str] | None = None) -> None:
        cookie = secrets.token_hex(16).upper()
        epmd = free_port()
        self.nodes = [
            ConfiguredNode(
                base / f"node{i}",
                name=f"{name}{i}x",
                epmd_port=epmd,
                cookie=cookie,
                extra_config=list(extra_config or []),
            )
            for i in range(size)
        ]

    @property
    def urls(self) -> list[str]:
        return [n.url for n in self.nodes]

    def start(self, timeout_s: float = 120.0) -> RabbitCluster:
        first, *others = self.nodes
        first.start(timeout_s=timeout_s)
        for node in others:
            node.start(timeout_s=timeout_s)
            ctl(node, "stop_app")
            ctl(node, "join_cluster", first.nodename)
            ctl(node, "start_app")
        wait_for(
            f"{len(self.nodes)} running nodes in the cluster",
            lambda: self.running_nodes() == len(self.nodes),
            timeout_s,
        )
        return self

    def running_nodes(self, via: RabbitNode | None = None) -> int:
        via = via or next(n for n in self.nodes if n.running())
        out = ctl(via, "eval", "length(rabbit_nodes:all_running()).", check=False)
        try:
            return int(out.strip())
        except ValueError:
            return 0

    def node_by_name(self, nodename: str) -> ConfiguredNode:
        return next(n for n in self.nodes if n.nodename == nodename)

    def leader(self, queue: str, vhost: str = "/") -> ConfiguredNode:
        """The node leading a quorum queue (asked of any running node)."""
        via = next(n for n in self.nodes if n.running())
        for line in ctl(
            via, "list_queues", "-p", vhost, "name", "leader", "--no-table-headers", "--quiet"
        ).splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] == queue:
                return self.node_by_name(parts[1])
        raise LookupError(f"queue {queue!r} has no leader listed on {via.nodename}")

    def kill(self, node: RabbitNode) -> None:
        """SIGKILL the node's Erlang VM (a crash: no clean shutdown, no connection close frames)."""
        pid = node._beam_pid() or node.pid
        if pid and pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
        if node.process is not None:
            try:
                node.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        deadline = time.monotonic() + 10
        while pid and pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)

    def destroy(self) -> None:
        for node in reversed(self.nodes):
            node.destroy()
