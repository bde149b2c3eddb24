"""Run by tests/integration/test_node_exporter_setup.py inside a private network and mount namespace
(`unshare -n -m`): the node-exporter command of the compose stack (read from the rendered compose
config, passed as JSON in argv[1]) runs with the host's root bind-mounted recursively the way the
compose volume `/:/host:ro,rslave` does (at a temporary path instead of /host) and listening on the
address compose gives it, added to this namespace's loopback. Prints one JSON line: the filesystem
mount points it reports."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

from observatory.localstack.proc import wait_for


def main() -> None:
    command = json.loads(sys.argv[1])
    host = Path(tempfile.mkdtemp()) / "host"
    host.mkdir()
    subprocess.run(["mount", "--rbind", "/", str(host)], check=True)
    subprocess.run(["mount", "--make-rslave", str(host)], check=True)
    listen = next(a.split("=", 1)[1] for a in command if a.startswith("--web.listen-address="))
    address = listen.rsplit(":", 1)[0]
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    subprocess.run(["ip", "addr", "add", f"{address}/32", "dev", "lo"], check=True)
    args = [a.replace("--path.rootfs=/host", f"--path.rootfs={host}") for a in command]
    exporter = subprocess.Popen(
        ["prometheus-node-exporter", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    url = f"http://{listen}/metrics"
    try:
        wait_for(
            f"node-exporter at {url}",
            lambda: urllib.request.urlopen(url, timeout=2).status == 200,
            30,
            alive=lambda: exporter.poll() is None,
        )
        text = urllib.request.urlopen(url, timeout=10).read().decode()
    finally:
        exporter.terminate()
        exporter.wait(timeout=10)
    mountpoints = sorted(set(re.findall(r'^node_filesystem_size_bytes\{[^}]*mountpoint="([^"]*)"', text, flags=re.M)))
    print(json.dumps({"mountpoints": mountpoints, "host_prefix": str(host)}))


if __name__ == "__main__":
    sys.exit(main())
