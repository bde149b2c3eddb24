"""OBS_FORWARDED_ALLOW_IPS decides whose X-Forwarded-For a listener believes (the client address feeds
GeoIP, rate limits and logs): a real uvicorn server built by observatory.listeners on loopback."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import pytest

from observatory.listeners import Bind, _config
from observatory.process import free_port


async def _client_seen(forwarded_for: str) -> str:
    import uvicorn

    async def app(scope, receive, send):
        body = (scope["client"][0] if scope.get("client") else "").encode()
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": body})

    port = free_port()
    server = uvicorn.Server(_config(app, Bind("127.0.0.1", port), access_log=False))
    task = asyncio.create_task(server._serve())
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.05)
        async with httpx.AsyncClient() as client:
            r = await client.get(f"http://127.0.0.1:{port}/", headers={"X-Forwarded-For": forwarded_for})
        return r.text
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_a_trusted_proxy_passes_the_client_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OBS_FORWARDED_ALLOW_IPS", raising=False)  # default: loopback is the proxy
    assert asyncio.run(_client_seen("203.0.113.7")) == "203.0.113.7"


def test_a_request_from_an_untrusted_address_keeps_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OBS_FORWARDED_ALLOW_IPS", "172.30.0.10")  # only compose's Caddy: not us
    monkeypatch.delenv("FORWARDED_ALLOW_IPS", raising=False)
    assert asyncio.run(_client_seen("203.0.113.7")) == "127.0.0.1"
