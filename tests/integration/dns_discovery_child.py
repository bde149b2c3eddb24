"""Run by tests/integration/test_consumer_dns_discovery.py inside a private network and mount
namespace (`unshare -n -m`): its own loopback, its own /etc/resolv.conf and a DNS server on its own
127.0.0.1:53, so nothing here touches the machine's network or other tests' ports.

Docker's embedded DNS answers a scaled service's name with one A record per replica; this plays
that part for `consumer` (two replicas, 127.0.0.2 and 127.0.0.3), serves a different /metrics on each
replica's 9101, and runs Prometheus with the compose stack's `consumer` job as it is in
config/prometheus/prometheus.yml. Prints one JSON line: Prometheus' targets and samples."""

from __future__ import annotations

import copy
import json
import socket
import struct
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from observatory.localstack.proc import wait_for
from observatory.localstack.prometheus import PrometheusServer
from observatory.monitoring import promconfig

REPLICAS = {"127.0.0.2": 5, "127.0.0.3": 7}  # replica address -> its counter value


def dns_answer(query: bytes, name: str, addresses: list[str]) -> bytes:
    qid, _flags, qdcount = struct.unpack("!HHH", query[:6])
    labels, i = [], 12
    while query[i]:
        labels.append(query[i + 1 : i + 1 + query[i]].decode())
        i += query[i] + 1
    qtype = struct.unpack("!H", query[i + 1 : i + 3])[0]
    question = query[12 : i + 5]
    asked = ".".join(labels).lower()
    answers = [a for a in addresses] if asked == name and qtype == 1 else []
    rcode = 0 if asked == name else 3  # NXDOMAIN for any other name
    head = struct.pack("!HHHHHH", qid, 0x8180 | rcode, 1, len(answers), 0, 0)
    body = b"".join(struct.pack("!HHHIH", 0xC00C, 1, 1, 5, 4) + socket.inet_aton(a) for a in answers)
    return head + question + body


def serve_dns(name: str, addresses: list[str]) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 53))

    def loop() -> None:
        while True:
            data, peer = sock.recvfrom(512)
            sock.sendto(dns_answer(data, name, addresses), peer)

    threading.Thread(target=loop, daemon=True).start()


def serve_replica(address: str, value: int, port: int) -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = f"# TYPE consumer_events_total counter\nconsumer_events_total {value}\n".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer((address, port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()


def main() -> None:
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    resolv = Path(tempfile.mkdtemp()) / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
    subprocess.run(["mount", "--bind", str(resolv), "/etc/resolv.conf"], check=True)

    compose = promconfig.compose_config()
    job = copy.deepcopy(next(j for j in compose["scrape_configs"] if j["job_name"] == "consumer"))
    (sd,) = job["dns_sd_configs"]
    serve_dns(sd["names"][0], list(REPLICAS))
    for address, value in REPLICAS.items():
        serve_replica(address, value, int(sd["port"]))

    cfg = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [job],
    }
    prom = PrometheusServer(Path(tempfile.mkdtemp()) / "prometheus", cfg).start(60)
    try:
        wait_for("both consumer replicas scraped", lambda: len(prom.query('up{job="consumer"} == 1')) == 2, 60)
        wait_for("samples of both replicas", lambda: len(prom.query("consumer_events_total")) == 2, 30)
        result = {
            "targets": sorted(t["labels"]["instance"] for t in prom.targets() if t["labels"]["job"] == "consumer"),
            "samples": {r["metric"]["instance"]: float(r["value"][1]) for r in prom.query("consumer_events_total")},
            "job": job,
        }
    finally:
        prom.stop()
    print(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
