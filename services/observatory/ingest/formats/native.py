"""The native format (POST /v1/events): one event object or a JSON array, optionally gzip."""

from __future__ import annotations

from observatory.ingest.formats import DecodeError, Payload, Request
from observatory.ingest.formats.body import gunzip, parse_json


def decode(req: Request, max_decompressed: int) -> Payload:
    ctype = req.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise DecodeError(415, "unsupported_media_type", "send Content-Type: application/json")
    encoding = req.headers.get("content-encoding", "").strip().lower()
    body = req.body
    if encoding == "gzip":
        body = gunzip(body, max_decompressed)
    elif encoding not in ("", "identity"):
        raise DecodeError(415, "unsupported_encoding", "Content-Encoding must be gzip or absent")
    payload = parse_json(body)
    return Payload(messages=payload if isinstance(payload, list) else [payload])
