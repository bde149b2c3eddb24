"""HTTP servers for the pipeline benchmark: ingest (or a bare ASGI app, the HTTP ceiling) under
uvicorn (httptools with one write per response, uvloop: what `observatory run ingest` uses) or Granian, as real processes.

The bare app answers a POST as ingest answers an accepted event (202, the same JSON body) after
reading the request body, and does nothing else: what the server, the load generator and the
loopback cost, which no ingest can beat under the same server.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from observatory.localstack.proc import free_port, wait_for
from observatory.process import stop_process as stop  # noqa: F401 - the pipeline benchmark's servers.stop

SERVERS = ("granian", "uvicorn")
_ACCEPTED = b'{"accepted":1,"rejected":[]}'


async def app(scope, receive, send) -> None:
    """The bare ASGI app (the HTTP ceiling)."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    status = 202 if scope["method"] == "POST" else 200
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"28")],
        }
    )
    await send({"type": "http.response.body", "body": _ACCEPTED})


def start(
    server: str, target: str, env: dict, log: Path, workers: int = 2, factory: bool = False, access_log: bool = True
) -> tuple[subprocess.Popen, str]:
    """Start `target` (module:attr) under `server` on a free loopback port; (process, base URL) once
    it answers. Ingest is started through `observatory run ingest` for uvicorn (its production
    path) and through Granian's own CLI for Granian."""
    port = free_port()
    listen = ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]  # both servers' flags
    if server == "uvicorn" and target == "observatory.cli.run:ingest_public_app_from_env":
        cmd = [sys.executable, "-m", "observatory.cli", "run", "ingest", "--workers", str(workers)]
        env = {
            **env,
            "OBS_INGEST_PORT": str(port),
            "OBS_INGEST_PRIVATE_PORT": str(free_port()),
            "OBS_ACCESS_LOG": "true" if access_log else "false",
        }
    elif server == "uvicorn":  # the bare app: uvicorn as `observatory run ingest` configures it (see main)
        cmd = [sys.executable, "-m", "observatory.bench.servers", target, str(port), str(workers)]
        if access_log:
            raise ValueError("the bare app runs without an access log")
    elif server == "granian":
        cmd = [
            sys.executable,
            "-m",
            "granian",
            "--interface",
            "asgi",
            *listen,
            "--loop",
            "uvloop",
            "--http",
            "1",
            "--no-ws",
            "--log-level",
            "warning",
            "--access-log" if access_log else "--no-access-log",
            *(["--factory"] if factory else []),
            target,
        ]
    else:
        raise ValueError(f"unknown server {server!r}")
    proc = subprocess.Popen(cmd, env=env, stdout=open(log, "ab"), stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    path = "/health/ready" if target.startswith("observatory.cli") else "/"
    wait_for(
        f"{server} serving {target}",
        lambda: httpx.get(base + path, timeout=1).status_code == 200,
        90,
        alive=lambda: proc.poll() is None,
        log_hint=f"see {log}",
    )
    return proc, base


def main(argv: list[str]) -> None:
    """`python -m observatory.bench.servers module:app PORT WORKERS`: serve a bare ASGI app with uvicorn
    configured as the services' listeners are (httptools with one write per response, uvloop, no
    server header), without an access log."""
    import uvicorn

    from observatory.http_protocol import OneWriteHttpToolsProtocol

    target, port, workers = argv
    uvicorn.run(
        target,
        host="127.0.0.1",
        port=int(port),
        workers=int(workers),
        http=OneWriteHttpToolsProtocol,
        loop="uvloop",
        server_header=False,
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main(sys.argv[1:])
