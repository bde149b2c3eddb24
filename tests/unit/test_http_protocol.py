"""The coalescing transport under uvicorn's protocol: one write per loop step, nothing held past it,
close/write_eof write what is held first, abort drops it. And a real uvicorn server over it answers
requests byte for byte as uvicorn's own protocol does."""

from __future__ import annotations

import asyncio
import socket

import uvicorn

from observatory.http_protocol import CoalescingTransport, OneWriteHttpToolsProtocol


class Recording:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = self.aborted = self.eof = False

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def write_eof(self) -> None:
        self.eof = True

    def get_write_buffer_size(self) -> int:
        return 7

    def is_closing(self) -> bool:
        return self.closed


async def test_writes_of_one_step_leave_as_one_write_at_its_end():
    real = Recording()
    t = CoalescingTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
    t.write(b"HTTP/1.1 202 Accepted\r\n\r\n")
    t.write(b'{"accepted":1}')
    assert real.writes == [] and t.get_write_buffer_size() == 7 + 25 + 14
    await asyncio.sleep(0)
    assert real.writes == [b'HTTP/1.1 202 Accepted\r\n\r\n{"accepted":1}']
    t.write(b"next")
    await asyncio.sleep(0)
    assert real.writes[-1] == b"next" and len(real.writes) == 2
    assert t.is_closing() is False  # the rest goes to the real transport


async def test_close_and_write_eof_write_what_is_held_first_and_abort_drops_it():
    real = Recording()
    t = CoalescingTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
    t.write(b"a")
    t.write_eof()
    assert real.writes == [b"a"] and real.eof
    t.write(b"b")
    t.close()
    assert real.writes == [b"a", b"b"] and real.closed
    await asyncio.sleep(0)  # the step's scheduled write finds nothing held
    assert real.writes == [b"a", b"b"]
    t.write(b"c")
    t.abort()
    await asyncio.sleep(0)
    assert real.writes == [b"a", b"b"] and real.aborted


async def _app(scope, receive, send):
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send({"type": "http.response.start", "status": 202, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


async def _exchange(protocol) -> list[bytes]:
    """Three keep-alive requests on one connection; what the server sent for each, read whole."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(_app, http=protocol, lifespan="off", log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answers = []
    for body in (b"{}", b"[1]", b""):
        writer.write(b"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
        head = await reader.readuntil(b"\r\n\r\n")
        answers.append(head + await reader.readexactly(2))
    writer.close()
    server.should_exit = True
    await task
    return answers


async def test_a_real_server_answers_as_uvicorns_own_protocol_does():
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    ours, theirs = await _exchange(OneWriteHttpToolsProtocol), await _exchange(HttpToolsProtocol)
    strip = [b"\r\n".join(line for line in a.split(b"\r\n") if not line.startswith(b"date:")) for a in ours + theirs]
    assert strip[:3] == strip[3:]
    assert all(a.startswith(b"HTTP/1.1 202 Accepted\r\n") and a.endswith(b"\r\n\r\nok") for a in ours)
