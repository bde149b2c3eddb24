"""Tracing fixtures: an OTLP/HTTP receiver on a free loopback port that decodes what the services
export (opentelemetry-proto ExportTraceServiceRequest), log capture, and tracing set up in-process."""

from __future__ import annotations

import contextlib
import gzip
import logging
import threading
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from observatory import poll, redact, tracing
from observatory.logging import JsonFormatter
from observatory.settings import CommonSettings

KINDS = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}


def _value(v):
    kind = v.WhichOneof("value")
    if kind == "array_value":
        return [_value(x) for x in v.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _value(kv.value) for kv in v.kvlist_value.values}
    return getattr(v, kind) if kind else None


def _attrs(kvs) -> dict:
    return {kv.key: _value(kv.value) for kv in kvs}


@dataclass
class Span:
    service: str
    resource: dict
    name: str
    kind: str
    trace_id: str
    span_id: str
    parent_span_id: str
    attributes: dict
    events: list[dict]
    links: list[tuple[str, str]]  # (trace_id, span_id)
    status_code: int  # 0 unset, 1 ok, 2 error
    status_message: str
    start_ns: int
    end_ns: int
    scope: str = ""
    raw: dict = field(default_factory=dict, repr=False)


class OtlpReceiver:
    """Accepts POST /v1/traces (protobuf, optionally gzip/deflate) and keeps the decoded spans."""

    def __init__(self) -> None:
        self.spans: list[Span] = []
        self.payloads: list[bytes] = []  # decoded protobuf bodies, to grep for data that must not be there
        self.requests = 0
        self.paths: list[str] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                encoding = (self.headers.get("Content-Encoding") or "").lower()
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                receiver._receive(self.path, self.headers.get("Content-Type", ""), body)
                out = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, name="otlp-receiver", daemon=True)
        self._thread.start()

    def _receive(self, path: str, ctype: str, body: bytes) -> None:
        assert ctype.startswith("application/x-protobuf"), ctype
        req = ExportTraceServiceRequest()
        req.ParseFromString(body)
        spans = []
        for rs in req.resource_spans:
            resource = _attrs(rs.resource.attributes)
            for ss in rs.scope_spans:
                for s in ss.spans:
                    spans.append(
                        Span(
                            service=resource.get("service.name", ""),
                            resource=resource,
                            name=s.name,
                            kind=KINDS.get(s.kind, str(s.kind)),
                            trace_id=s.trace_id.hex(),
                            span_id=s.span_id.hex(),
                            parent_span_id=s.parent_span_id.hex(),
                            attributes=_attrs(s.attributes),
                            events=[{"name": e.name, **_attrs(e.attributes)} for e in s.events],
                            links=[(link.trace_id.hex(), link.span_id.hex()) for link in s.links],
                            status_code=s.status.code,
                            status_message=s.status.message,
                            start_ns=s.start_time_unix_nano,
                            end_ns=s.end_time_unix_nano,
                            scope=ss.scope.name,
                        )
                    )
        with self._lock:
            self.requests += 1
            self.paths.append(path)
            self.payloads.append(body)
            self.spans.extend(spans)

    def snapshot(self) -> list[Span]:
        with self._lock:
            return list(self.spans)

    def trace(self, trace_id: str) -> list[Span]:
        return [s for s in self.snapshot() if s.trace_id == trace_id]

    def named(self, prefix: str) -> list[Span]:
        return [s for s in self.snapshot() if s.name.startswith(prefix)]

    def clear(self) -> None:
        with self._lock:
            self.spans.clear()
            self.payloads.clear()
            self.requests = 0

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def otlp() -> OtlpReceiver:
    receiver = OtlpReceiver()
    yield receiver
    receiver.close()


@pytest.fixture
def traced(otlp):
    """Tracing on in this process, exporting to the receiver every 50 ms; off again after the test."""
    otlp.clear()
    tracing.shutdown()
    state = tracing.setup(
        CommonSettings(otlp_endpoint=otlp.url, trace_sample_ratio=1.0, env="test"), "test", export_delay_ms=50
    )
    yield state
    tracing.shutdown()


class LogCapture(logging.Handler):
    """The services' JSON log lines (the production formatter, with the redaction hook installed)."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(JsonFormatter("test"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def docs(self) -> list[dict]:
        return [orjson.loads(line) for line in self.lines]


@pytest.fixture
def logs():
    redact.configure(CommonSettings().redact_properties)
    handler = LogCapture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield handler
    root.removeHandler(handler)
    root.setLevel(old_level)


def read_json_lines(path) -> list[dict]:
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                with contextlib.suppress(orjson.JSONDecodeError):
                    out.append(orjson.loads(line))
    return out


def wait_for(what: str, check, timeout_s: float = 20.0, interval_s: float = 0.05):
    """Synchronous bounded wait naming what it waited for (for threads and subprocesses; observatory.poll,
    an exception in the check fails the test at once)."""
    return poll.wait_for(what, check, timeout_s, interval_s, transient=())
