"""supervisord event listener of the local stack: a program that went FATAL (it kept dying at start
through all its back-off retries, e.g. while a port it needs was held) is started again after
`OBS_LOCAL_REVIVE_AFTER_S` seconds (default 30), and again after each further FATAL. So the stack
heals by itself whatever the length of the outage, without a fast restart loop.

Run by supervisord as `python -m observatory.localstack.revive`; stdout is supervisor's event
protocol, messages go to stderr (`.local/logs/revive.log`).
"""

from __future__ import annotations

import os
import sys
import threading
import time

from supervisor import childutils


def _start(name: str) -> None:
    try:
        childutils.getRPCInterface(os.environ).supervisor.startProcess(name, False)
        print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} started {name} again after FATAL", file=sys.stderr, flush=True)
    except Exception as exc:  # noqa: BLE001 - already running, removed meanwhile, supervisord stopping
        print(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} could not start {name}: {exc}", file=sys.stderr, flush=True)


def main() -> None:
    delay = float(os.environ.get("OBS_LOCAL_REVIVE_AFTER_S", "30"))
    while True:
        headers, payload = childutils.listener.wait(sys.stdin, sys.stdout)
        if headers["eventname"] == "PROCESS_STATE_FATAL":
            name = childutils.get_headers(payload.split("\n", 1)[0])["processname"]
            print(
                f"{time.strftime('%Y-%m-%dT%H:%M:%S')} {name} is FATAL; starting it again in {delay:.0f}s",
                file=sys.stderr,
                flush=True,
            )
            threading.Timer(delay, _start, args=(name,)).start()
        childutils.listener.ok(sys.stdout)


if __name__ == "__main__":
    main()
