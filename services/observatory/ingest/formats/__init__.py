"""Wire formats of the ingest doors: one pure decoder per format (native, posthog, segment).

Each turns request bytes + headers + query into a `Payload`: the keys the request carries and its
events already mapped onto the native event shape (or a Rejection for an event that cannot be
mapped), so everything after decoding (auth, limits, validation, publish) is one shared pipeline.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


class DecodeError(Exception):
    """The request as a whole is refused (undecodable, unauthorised, over a limit): answered with
    `status` and the extra `headers`; nothing written."""

    def __init__(self, status: int, code: str, message: str, headers: Iterable[tuple[bytes, bytes]] = ()) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, list(headers)


@dataclass
class Request:
    """What a decoder sees of an HTTP request (lower-case header names)."""

    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    path: str = ""


@dataclass
class Payload:
    """A decoded request: its messages (SDK-shaped dicts), the keys it carries, and its envelope."""

    messages: list[Any]  # decoded JSON, each SHOULD be a message object
    keys: set[str] = field(default_factory=set)
    sent_at: str | None = None
