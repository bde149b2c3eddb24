"""Local HTTP servers standing in for Elasticsearch, Kibana, Grafana and Metabase.

Each checks every request against the documented API (method, path, headers, body shape, auth) and
records violations instead of guessing: an unknown route or a malformed request is answered 400/404
and listed in `violations`, which the tests require to be empty. A server can refuse connections for
a while (its port is not listening yet) and answer 503 to its first requests, like a target that is
still starting.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from observatory.process import free_port


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body) if self.body else None

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def basic_auth(self) -> tuple[str, str] | None:
        value = self.header("authorization") or ""
        if not value.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(value[6:]).decode().partition(":")
        return user, password


class Reject(Exception):
    """Raised by a handler: the request breaks the documented API."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


Response = tuple[int, dict]  # status, JSON body
Handler = Callable[[Request, re.Match], Response]


@dataclass
class FakeServer:
    name: str
    refuse_for_s: float = 0.0  # the port does not listen during this time
    unavailable_first: int = 0  # this many requests get 503 first
    extra_headers: dict[str, str] = field(default_factory=dict)
    routes: list[tuple[str, re.Pattern, Handler]] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    refused_until: float = 0.0
    port: int = 0

    def route(self, method: str, pattern: str):
        def register(fn: Handler) -> Handler:
            self.routes.append((method, re.compile(f"^{pattern}$"), fn))
            return fn

        return register

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeServer:
        self.port = free_port()  # outside the ephemeral range (see process.free_port)
        self.refused_until = time.monotonic() + self.refuse_for_s
        self._started = threading.Event()
        threading.Thread(target=self._serve_later, daemon=True).start()
        return self

    def _serve_later(self) -> None:
        time.sleep(self.refuse_for_s)
        fake = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _handle(self):
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                req = Request(
                    self.command,
                    url.path,
                    parse_qs(url.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
                fake.requests.append(req)
                status, body = fake._dispatch(req)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for k, v in fake.extra_headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), H)
        self._started.set()
        self.server.serve_forever(poll_interval=0.05)

    def _dispatch(self, req: Request) -> Response:
        if self.unavailable_first > 0:
            self.unavailable_first -= 1
            return 503, {"error": "starting"}
        for method, pattern, fn in self.routes:
            m = pattern.match(req.path)
            if m and re.fullmatch(method, req.method):
                try:
                    return fn(req, m)
                except Reject as exc:
                    self.violations.append(f"{req.method} {req.path}: {exc.reason}")
                    return exc.status, {"error": exc.reason}
        self.violations.append(f"{req.method} {req.path}: no such route in the documented API")
        return 404, {"error": "not found"}

    def stop(self) -> None:
        if getattr(self, "_started", None) and self._started.wait(10):
            self.server.shutdown()
            self.server.server_close()

    def calls(self, method: str, path_regex: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and re.fullmatch(path_regex, r.path)]


def require(condition: bool, reason: str, status: int = 400) -> None:
    if not condition:
        raise Reject(status, reason)


def require_basic(req: Request, user: str, password: str) -> None:
    require(req.basic_auth() == (user, password), f"expected basic auth as {user}", 401)


def require_json(req: Request) -> object:
    ctype = req.header("content-type") or ""
    require("json" in ctype, f"content-type {ctype!r} is not JSON")
    try:
        return json.loads(req.body)
    except ValueError:
        raise Reject(400, "body is not JSON") from None


def multipart_files(req: Request) -> dict[str, tuple[str, bytes]]:
    """field name -> (filename, content) of a multipart/form-data body."""
    ctype = req.header("content-type") or ""
    require(ctype.startswith("multipart/form-data; boundary="), f"content-type {ctype!r} is not multipart")
    msg = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {ctype}\r\n\r\n".encode() + req.body)
    out = {}
    for part in msg.iter_parts():
        out[part.get_param("name", header="content-disposition")] = (part.get_filename(), part.get_payload(decode=True))
    return out
