"""Raw-ASGI plumbing shared by the ingest doors: headers, query, bounded body reads, JSON answers."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import parse_qsl

from starlette.types import Receive, Scope, Send

from observatory.ingest.formats import DecodeError


def headers_of(scope: Scope) -> dict[str, str]:
    return {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}


def query_of(scope: Scope) -> dict[str, str]:
    raw = scope.get("query_string", b"")
    return dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True)) if raw else {}


async def read_body(receive: Receive, headers: dict[str, str], limit: int) -> bytes:
    """The whole body, refusing (413) as soon as it exceeds `limit` bytes as sent (compressed)."""
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise DecodeError(413, "body_too_large", f"body is larger than {limit} bytes")
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise DecodeError(413, "body_too_large", f"body is larger than {limit} bytes")
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


async def answer(send: Send, status: int, body: bytes, headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
    hdrs = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": hdrs})
    await send({"type": "http.response.body", "body": body})
