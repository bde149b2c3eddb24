"""Byte-level decoding shared by the formats: bounded gunzip, strict base64, JSON, form fields."""

from __future__ import annotations

import base64
import binascii
import re
import zlib
from urllib.parse import parse_qs

import orjson

from observatory.ingest.formats import DecodeError

GZIP_MAGIC = b"\x1f\x8b"
_B64 = re.compile(rb"^[A-Za-z0-9+/\r\n]+={0,2}\s*$")


def gunzip(data: bytes, limit: int) -> bytes:
    """Decompress gzip without ever holding more than `limit + 1` bytes (a gzip bomb gets 413)."""
    out = bytearray()
    rest = data
    while rest:  # concatenated gzip members are one stream (RFC 1952)
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out += d.decompress(rest, limit + 1 - len(out))
        except zlib.error as exc:
            raise DecodeError(400, "bad_compression", f"body is not valid gzip: {exc}") from None
        if len(out) > limit or d.unconsumed_tail:
            raise DecodeError(413, "decompressed_too_large", f"decompressed body is larger than {limit} bytes")
        if not d.eof:
            raise DecodeError(400, "bad_compression", "gzip body is truncated")
        rest = d.unused_data.lstrip(b"\x00")
        if rest and not rest.startswith(GZIP_MAGIC):
            raise DecodeError(400, "bad_compression", "trailing bytes after the gzip stream")
    return bytes(out)


def looks_base64(data: bytes) -> bool:
    return bool(data) and data[:1] not in (b"{", b"[") and _B64.match(data) is not None


def unbase64(data: bytes) -> bytes:
    cleaned = re.sub(rb"\s", b"", data)
    cleaned += b"=" * (-len(cleaned) % 4)
    try:
        return base64.b64decode(cleaned, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise DecodeError(400, "bad_encoding", f"body is not valid base64: {exc}") from None


def parse_json(data: bytes) -> object:
    if not data or data.isspace():
        raise DecodeError(400, "empty_body", "the request holds no data")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:  # also invalid UTF-8
        raise DecodeError(400, "malformed_json", f"body is not valid JSON (UTF-8): {exc}") from None


def form_fields(body: bytes) -> dict[str, str]:
    """application/x-www-form-urlencoded; `+` stays `+` in `data` as PostHog's server does."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError(400, "malformed_form", "form body is not UTF-8") from None
    fields = parse_qs(text.replace("+", "%2B"), keep_blank_values=True)
    return {k: v[0] for k, v in fields.items()}


def maybe_gunzip(data: bytes, hinted: bool, limit: int) -> bytes:
    if hinted or data.startswith(GZIP_MAGIC):
        return gunzip(data, limit)
    if len(data) > limit:
        raise DecodeError(413, "decompressed_too_large", f"body is larger than {limit} bytes")
    return data
