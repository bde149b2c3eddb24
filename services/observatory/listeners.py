"""Two listeners per service: a PUBLIC one (the write paths and liveness/readiness) and a PRIVATE one
(the read API, /metrics, /docs, /openapi.json), loopback by default. Both are served by the same
process, from one event loop, over one set of objects (the private app owns the lifespan).

  public_app(...)    FastAPI with health only + the write paths (a dict path -> raw ASGI handler)
  private_app(...)   FastAPI with health, /metrics, docs and the routers; carries `state.access`
  serve(...)         run both: one process, or `workers` processes sharing sockets the parent bound
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import multiprocessing
import os
import signal
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from fastapi import APIRouter, FastAPI
from fastapi.telemetry import TelemetryConfig
from prometheus_client import CollectorRegistry

from observatory import __version__, gc_tuning
from observatory.api_keys import Access
from observatory.errors import install_error_handlers
from observatory.health import Checks, health_router, metrics_router
from observatory.responses import JSONResponse
from observatory.runbooks import runbooks_router
from observatory.settings import CommonSettings

log = logging.getLogger("observatory.listeners")


@dataclass
class Listeners:
    public: FastAPI
    private: FastAPI

    @property
    def state(self):
        return self.private.state

    def lifespan(self):
        """`async with listeners.lifespan():` starts and stops what both apps share."""
        return self.private.router.lifespan_context(self.private)

    def public_asgi(self):
        """The public app with the shared lifespan, as ONE ASGI app: for a server that runs a
        single app (Granian in `make bench`); the private listener is then not served."""

        async def app(scope, receive, send):
            target = self.private if scope["type"] == "lifespan" else self.public
            return await target(scope, receive, send)

        return app


class WritePaths:
    """ASGI middleware: requests to a registered write path go straight to its raw handler (the hot
    path skips the framework); everything else goes on to the app (health, 404s)."""

    def __init__(self, app, routes: Mapping[str, Callable]) -> None:
        self.app = app
        self.routes = {path: h for path, h in routes.items() if not path.endswith("*")}
        self.prefixes = [(path[:-1], h) for path, h in routes.items() if path.endswith("*")]  # "/array/*"

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            path = scope["path"]
            handler = self.routes.get(path)
            if handler is None:
                handler = next((h for prefix, h in self.prefixes if path.startswith(prefix)), None)
            if handler is not None:
                return await handler(scope, receive, send)
        return await self.app(scope, receive, send)


# FastAPI's own OpenTelemetry layer is off: observatory.tracing instruments the apps (one server span
# per request, only when OBS_OTLP_ENDPOINT is set), and FastAPI's layer would look the global
# providers up on every request and, with tracing on, record every request a second time.
NO_FASTAPI_TELEMETRY: TelemetryConfig = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}


def public_app(title: str, description: str, checks: Checks, write_paths: Mapping[str, Callable] = {}) -> FastAPI:
    """Health and the write paths; no docs, no metrics, no read route (those answer 404 here)."""
    app = FastAPI(
        title=f"{title} (public)",
        version=__version__,
        description=description,
        default_response_class=JSONResponse,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        telemetry=NO_FASTAPI_TELEMETRY,
    )
    install_error_handlers(app)
    app.include_router(health_router(checks))
    if write_paths:
        app.add_middleware(WritePaths, routes=write_paths)
    return app


def private_app(
    title: str,
    description: str,
    checks: Checks,
    registry: CollectorRegistry,
    access: Access,
    *,
    lifespan=None,
    routers: Sequence[APIRouter] = (),
    public: FastAPI | None = None,
) -> FastAPI:
    """The read side: health, /metrics, docs, the routers (each guarding itself with require_scope),
    and the alert runbooks as HTML (/runbooks/, no key: see observatory.runbooks).
    `public`'s OpenAPI document is served here too, at /openapi/public.json."""
    app = FastAPI(
        title=title,
        version=__version__,
        description=description,
        lifespan=lifespan,
        default_response_class=JSONResponse,
        telemetry=NO_FASTAPI_TELEMETRY,
    )
    app.state.access = access
    app.state.registry = registry
    install_error_handlers(app)
    app.include_router(health_router(checks))
    app.include_router(metrics_router(registry))
    app.include_router(runbooks_router())
    for router in routers:
        app.include_router(router)
    if public is not None:

        @app.get("/openapi/public.json", include_in_schema=False)
        async def public_openapi() -> JSONResponse:
            return JSONResponse(public.openapi())

    return app


# -- serving --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Bind:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


def _config(app, bind: Bind, access_log: bool):
    import uvicorn

    from observatory.http_protocol import OneWriteHttpToolsProtocol
    from observatory.logging import uvicorn_log_config

    return uvicorn.Config(
        app,
        http=OneWriteHttpToolsProtocol,
        host=bind.host,
        port=bind.port,
        lifespan="off",
        log_config=uvicorn_log_config(),
        access_log=access_log,
        timeout_graceful_shutdown=30,
        server_header=False,
        proxy_headers=True,
        forwarded_allow_ips=CommonSettings().forwarded_allow_ips,
    )


async def serve_async(
    listeners: Listeners,
    public: Bind,
    private: Bind,
    *,
    access_log: bool = True,
    sockets: tuple[socket.socket, socket.socket] | None = None,
) -> None:
    """Start the shared lifespan, then both servers; SIGTERM/SIGINT stop both gracefully."""
    import uvicorn

    servers = [
        uvicorn.Server(_config(listeners.public, public, access_log)),
        uvicorn.Server(_config(listeners.private, private, access_log)),
    ]
    loop = asyncio.get_running_loop()

    def stop() -> None:
        for server in servers:
            server.should_exit = True

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    try:
        async with listeners.lifespan():
            gc_tuning.tune(CommonSettings().gc_gen0_threshold)
            log.info("listening", extra={"public": str(public), "private": str(private)})
            # _serve: Server.serve() without its own signal capture (one handler stops both here)
            tasks = [
                asyncio.create_task(server._serve([sock] if sock else None))
                for server, sock in zip(servers, sockets or (None, None))
            ]
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            stop()  # one listener ended (could not bind, or shut down): end the other too
            await asyncio.gather(*tasks)
            if any(not s.started for s in servers):
                raise SystemExit(3)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


def _import(path: str) -> Callable[[], Listeners]:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def _run(coro) -> None:
    """Run the servers on uvloop when it is installed (uvicorn[standard] brings it; what uvicorn.run
    would pick), else on asyncio's own loop: the loop is a large share of a small request's cost."""
    try:
        import uvloop
    except ImportError:
        asyncio.run(coro)
    else:
        uvloop.run(coro)


def _worker(factory: str, public: Bind, private: Bind, access_log: bool, sockets) -> None:
    listeners = _import(factory)()
    _run(serve_async(listeners, public, private, access_log=access_log, sockets=tuple(sockets)))


def serve(build: Listeners | str, public: Bind, private: Bind, *, workers: int = 1, access_log: bool = True) -> None:
    """One process (`build` a Listeners or a `module:factory` path), or `workers` processes: the
    parent binds both sockets, each worker builds its own apps from the factory and serves both
    sockets (the kernel spreads connections); the parent forwards SIGTERM/SIGINT and waits."""
    if workers <= 1:
        listeners = _import(build)() if isinstance(build, str) else build
        _run(serve_async(listeners, public, private, access_log=access_log))
        return
    if not isinstance(build, str):
        raise ValueError("workers > 1 needs a `module:factory` path each worker can import")
    sockets = [_config(None, b, access_log).bind_socket() for b in (public, private)]
    multiprocessing.allow_connection_pickling()
    spawn = multiprocessing.get_context("spawn")
    procs = [
        spawn.Process(target=_worker, args=(build, public, private, access_log, sockets), daemon=False)
        for _ in range(workers)
    ]
    for p in procs:
        p.start()
    stopping = []

    def forward(sig, _frame) -> None:
        stopping.append(sig)
        for p in procs:
            if p.is_alive() and p.pid is not None:
                os.kill(p.pid, signal.SIGTERM)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while any(p.is_alive() for p in procs):
            for p in procs:
                p.join(timeout=0.5)
                if p.exitcode not in (None, 0) and not stopping:
                    log.error("worker %s exited with %s: stopping the others", p.pid, p.exitcode)
                    forward(signal.SIGTERM, None)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for s in sockets:
            with contextlib.suppress(OSError):
                s.close()
    if any(p.exitcode not in (0, None) for p in procs) and not stopping:
        raise SystemExit(1)
