"""SDK tests: the real ingest app served over real HTTP (uvicorn, in this event loop, on a free port),
so the official SDKs' own HTTP clients and threads talk to it, and helpers to read stored rows."""

from __future__ import annotations

import asyncio
import contextlib
import json

import uvicorn


@contextlib.asynccontextmanager
async def serve(app):
    """Serve an app whose lifespan already ran (make_pipeline) on 127.0.0.1:<free port>; yields the URL."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, lifespan="off", log_level="warning", access_log=False)
    )
    task = asyncio.create_task(server.serve())
    try:
        for _ in range(200):
            if server.started or task.done():
                break
            await asyncio.sleep(0.05)
        assert server.started, "uvicorn did not start"
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


def rows(ch, db: str, where: str = "1") -> list[dict]:
    result = ch.query(
        f"SELECT event_id, event_name, timestamp, user_id, session_id, properties, source "
        f"FROM {db}.events FINAL WHERE {where} ORDER BY timestamp"
    )
    return [
        {
            "event_id": str(r[0]),
            "event_name": r[1],
            "timestamp": r[2],
            "user_id": r[3],
            "session_id": r[4],
            "properties": json.loads(r[5]),
            "source": r[6],
        }
        for r in result.result_rows
    ]
