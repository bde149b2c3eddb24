"""A broker connection that keeps itself open: reconnects with backoff, re-declares the topology,
and tells its owner when it is up or down (for readiness and metrics).

With several broker URLs (the nodes of a cluster, `OBS_AMQP_URL=a,b,c`) it connects to the first
that answers and, when that connection is lost, tries the next ones first (the lost node is tried
last), so a node crash costs one reconnect, not a wait for that node to come back."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import overload

import aio_pika

from observatory.broker import topology
from observatory.settings import BrokerSettings

log = logging.getLogger("observatory.broker")


class BrokerLink:
    """Owns one AMQP connection and one confirm-mode channel; `on_up` runs after each (re)connect."""

    def __init__(
        self,
        settings: BrokerSettings,
        name: str,
        on_up: Callable[[BrokerLink], Awaitable[None]] | None = None,
        on_state: Callable[[bool], None] | None = None,
    ) -> None:
        self.settings = settings
        self.name = name
        self.on_up = on_up
        self.on_state = on_state or (lambda up: None)
        self.connection: aio_pika.abc.AbstractConnection | None = None
        self.channel: aio_pika.abc.AbstractChannel | None = None
        self.exchange = self.queue = self.dlx = None
        self.urls = settings.urls()
        self.current_url: str | None = None
        self._task: asyncio.Task | None = None
        self._closed = asyncio.Event()
        self._stopping = False
        self._renew = False
        self._connected_at = 0.0
        self.up = asyncio.Event()

    async def start(self, wait_s: float | None = None) -> None:
        self._task = asyncio.create_task(self._run(), name=f"broker-link-{self.name}")
        if wait_s:
            try:
                await asyncio.wait_for(self.up.wait(), wait_s)
            except TimeoutError:
                log.warning(
                    "broker not reachable yet; retrying in the background",
                    extra={"amqp": ",".join(map(_redact, self.urls))},
                )

    def renew(self, min_age_s: float = 1.0) -> None:
        """Reconnect now (at most once per `min_age_s`), e.g. after a nack: a channel may keep stale queue
        state. RabbitMQ 3.10 nacks every publish, for good, on a channel whose first publish to a quorum
        queue came during a leader election; a new channel opened after the election publishes fine.
        When the queue really is full, the new channel gets nacks too, which is what callers should see."""
        if self.up.is_set() and time.monotonic() - self._connected_at >= min_age_s:
            self._renew = True
            self._closed.set()

    async def stop(self) -> None:
        self._stopping = True
        self._closed.set()
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._close()

    async def _close(self) -> None:
        self._set_state(False)
        conn, self.connection, self.channel = self.connection, None, None
        if conn is not None and not conn.is_closed:
            try:
                await asyncio.wait_for(conn.close(), 5)
            except Exception:  # noqa: BLE001 - closing a broken connection may fail in many ways
                pass

    def _set_state(self, up: bool) -> None:
        if up:
            self.up.set()
        else:
            self.up.clear()
        self.on_state(up)

    async def _run(self) -> None:
        delay = 0.2
        start = 0
        while not self._stopping:
            try:
                start = await self._connect(start)
                assert self.connection is not None  # set by _connect
                self.channel = await self.connection.channel(publisher_confirms=True, on_return_raises=True)
                self.exchange, self.queue, self.dlx = await topology.declare(self.channel, self.settings)
                self._closed.clear()
                self.connection.close_callbacks.add(lambda *_: self._closed.set())
                self.channel.close_callbacks.add(lambda *_: self._closed.set())
                if self.on_up:
                    await self.on_up(self)
                self._set_state(True)
                self._connected_at = time.monotonic()
                log.info("broker connected", extra={"amqp": _redact(self.current_url), "link": self.name})
                delay = 0.2
                await self._closed.wait()
                if self._renew:
                    self._renew = False
                    log.info("renewing the broker connection after nacks", extra={"link": self.name})
                    delay = 0.0
                elif not self._stopping:
                    log.warning(
                        "broker connection lost; reconnecting",
                        extra={"link": self.name, "amqp": _redact(self.current_url)},
                    )
                    start = (start + 1) % len(self.urls)  # the next node first, the lost one last
                    delay = 0.0 if len(self.urls) > 1 else delay
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - any failure means: not connected, retry
                log.warning("broker connect failed: %s", exc, extra={"link": self.name, "retry_in_s": delay})
                start = (start + 1) % len(self.urls)  # e.g. a node that accepts but cannot serve the queue
            await self._close()
            if self._stopping:
                break
            await asyncio.sleep(delay)
            delay = min(max(delay * 2, 0.2), 5.0)

    async def _connect(self, start: int) -> int:
        """Connect to the first URL that answers, trying them in order from `start`; returns its index."""
        errors = []
        for k in range(len(self.urls)):
            i = (start + k) % len(self.urls)
            try:
                self.connection = await aio_pika.connect(
                    self.urls[i],
                    heartbeat=self.settings.heartbeat_s,
                    client_properties={"connection_name": f"observatory-{self.name}"},
                    timeout=10,
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - this node does not answer: try the next one
                errors.append(f"{_redact(self.urls[i])}: {exc}")
                continue
            self.current_url = self.urls[i]
            return i
        raise ConnectionError("no broker answered (" + "; ".join(errors) + ")")


@overload
def _redact(url: str) -> str: ...
@overload
def _redact(url: None) -> None: ...
def _redact(url: str | None) -> str | None:
    if not url or "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.split('@', 1)[1]}"
