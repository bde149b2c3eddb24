"""uvicorn's httptools protocol, writing each response with one system call.

uvicorn writes a response's status line and headers, then its body, each with its own
`transport.write`, so each its own `send()` on the socket; on loopback a send also runs the
receiver's side of TCP. Under single-event POSTs the two writes were the largest share of an ingest
worker's CPU (py-spy). Here the connection's transport holds what is written during one step of
the event loop and writes it at the end of that step: a small response leaves as one segment.
Nothing waits longer than the current step; close() and write_eof() write what is held first.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class CoalescingTransport:
    """A transport that joins the writes of one loop step into one write of the real transport."""

    __slots__ = ("_transport", "_loop", "_held")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] | None = None

    def write(self, data: bytes) -> None:
        if self._held is None:
            self._held = [data]
            self._loop.call_soon(self._write_held)
        else:
            self._held.append(data)

    def writelines(self, lines) -> None:
        for data in lines:
            self.write(data)

    def _write_held(self) -> None:
        held, self._held = self._held, None
        if held:
            self._transport.write(held[0] if len(held) == 1 else b"".join(held))

    def close(self) -> None:
        self._write_held()
        self._transport.close()

    def write_eof(self) -> None:
        self._write_held()
        self._transport.write_eof()

    def abort(self) -> None:
        self._held = None
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(len(d) for d in self._held or ())

    def __getattr__(self, name: str) -> Any:  # is_closing, get_extra_info, pause_reading, set_protocol ...
        return getattr(self._transport, name)


class OneWriteHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol over a CoalescingTransport (pass as uvicorn.Config(http=...))."""

    def connection_made(self, transport) -> None:
        # the proxy has every method uvicorn calls (the rest through __getattr__), not Transport's type
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
