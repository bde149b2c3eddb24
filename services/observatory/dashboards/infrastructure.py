"""Observatory / Infrastructure (infrastructure.json): the host (node-exporter) and every container
(cAdvisor): CPU, memory, disk and network."""

from __future__ import annotations

from observatory.dashboards.grafana import Dash
from observatory.dashboards.panels import RI, stat, ts

SVC = "container_label_com_docker_compose_service"


def dashboard() -> Dash:
    d = Dash(
        "observatory-infrastructure",
        "Observatory / Infrastructure",
        "The host (node-exporter) and every container (cAdvisor): CPU, memory, disk and network.",
        ["infrastructure"],
        time_from="now-3h",
        refresh="30s",
    )
    d.row("Host")
    d.add(
        stat(
            "CPU busy",
            f'1 - avg(rate(node_cpu_seconds_total{{mode="idle"}}[{RI}]))',
            "percentunit",
            th=[("green", None), ("orange", 0.7), ("red", 0.9)],
        ),
        6,
        4,
    )
    d.add(
        stat(
            "Memory available",
            "min(node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)",
            "percentunit",
            th=[("red", None), ("orange", 0.1), ("green", 0.2)],
        ),
        6,
        4,
    )
    d.add(
        stat(
            "Disk free (fullest filesystem)",
            'min(node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs"} / node_filesystem_size_bytes{fstype!~"tmpfs|overlay|squashfs"})',
            "percentunit",
            th=[("red", None), ("orange", 0.1), ("green", 0.2)],
        ),
        6,
        4,
    )
    d.add(
        stat(
            "Load (1m) per core",
            "max(node_load1) / count(count by (cpu) (node_cpu_seconds_total))",
            "short",
            th=[("green", None), ("orange", 1), ("red", 2)],
        ),
        6,
        4,
    )
    d.row("Containers")
    d.add(
        ts(
            "CPU per container",
            [(f'sum by ({SVC}) (rate(container_cpu_usage_seconds_total{{{SVC}!=""}}[{RI}]))', f"{{{{{SVC}}}}}")],
            "percentunit",
            stack=True,
        ),
        12,
        8,
    )
    d.add(
        ts(
            "Memory per container (working set)",
            [(f'sum by ({SVC}) (container_memory_working_set_bytes{{{SVC}!=""}})', f"{{{{{SVC}}}}}")],
            "bytes",
            stack=True,
        ),
        12,
        8,
    )
    d.add(
        ts(
            "Memory vs. limit",
            [
                (
                    f'max by ({SVC}) (container_memory_working_set_bytes{{{SVC}!=""}} / (container_spec_memory_limit_bytes{{{SVC}!=""}} > 0))',
                    f"{{{{{SVC}}}}}",
                )
            ],
            "percentunit",
            th=[("green", None), ("orange", 0.8), ("red", 0.95)],
            desc="Near 100% the kernel kills the container (OOM)",
        ),
        12,
        8,
    )
    d.add(
        ts(
            "Disk I/O per container",
            [
                (f'sum by ({SVC}) (rate(container_fs_writes_bytes_total{{{SVC}!=""}}[{RI}]))', f"write {{{{{SVC}}}}}"),
                (f'sum by ({SVC}) (rate(container_fs_reads_bytes_total{{{SVC}!=""}}[{RI}]))', f"read {{{{{SVC}}}}}"),
            ],
            "Bps",
        ),
        12,
        8,
    )
    d.add(
        ts(
            "Network received per container",
            [(f'sum by ({SVC}) (rate(container_network_receive_bytes_total{{{SVC}!=""}}[{RI}]))', f"{{{{{SVC}}}}}")],
            "Bps",
        ),
        12,
        8,
    )
    d.add(
        ts(
            "Network sent per container",
            [(f'sum by ({SVC}) (rate(container_network_transmit_bytes_total{{{SVC}!=""}}[{RI}]))', f"{{{{{SVC}}}}}")],
            "Bps",
        ),
        12,
        8,
    )
    d.add(
        ts(
            "Host disk space used",
            [
                (
                    '1 - node_filesystem_avail_bytes{fstype!~"tmpfs|overlay|squashfs"} / node_filesystem_size_bytes{fstype!~"tmpfs|overlay|squashfs"}',
                    "{{mountpoint}}",
                )
            ],
            "percentunit",
            th=[("green", None), ("orange", 0.8), ("red", 0.9)],
        ),
        12,
        8,
    )
    d.add(
        ts(
            "Host network",
            [
                (
                    f'sum(rate(node_network_receive_bytes_total{{device!~"lo|veth.*|docker.*|br-.*"}}[{RI}]))',
                    "received",
                ),
                (f'sum(rate(node_network_transmit_bytes_total{{device!~"lo|veth.*|docker.*|br-.*"}}[{RI}]))', "sent"),
            ],
            "Bps",
        ),
        12,
        8,
    )
    return d
