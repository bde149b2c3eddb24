"""One JSON object per log line, for every service and for uvicorn's access log.

Lines go to stderr in batches (LineHandler): below WARNING a line waits at most 0.2 s, so a busy
service writes its access log with one system call per batch instead of one per request. A WARNING
or worse is written at once, with every line before it; at exit the logging module flushes the rest.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
import weakref
from contextvars import ContextVar

import orjson

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    _second: tuple[int, str] = (-1, "")  # the last whole second formatted, and its text

    def format(self, record: logging.LogRecord) -> str:
        second = int(record.created)
        if second != self._second[0]:
            self._second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        doc = {
            "timestamp": f"{self._second[1]}.{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = request_id_var.get()
        if rid:
            doc["request_id"] = rid
        if record.__dict__.keys() - _RESERVED:  # extras (most lines, the access log's, have none)
            for key, value in record.__dict__.items():
                if key not in _RESERVED and not key.startswith("_"):
                    doc[key] = value
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        for hook in _enrichers:  # last: they see the whole line (trace ids are added, personal data masked)
            hook(doc)
        return orjson.dumps(doc, default=str).decode()


_enrichers: list = []


def add_enricher(hook) -> None:
    """Let another module add fields to every finished line (tracing: trace_id) or mask them (redact)."""
    if hook not in _enrichers:
        _enrichers.append(hook)


class LineHandler(logging.StreamHandler):
    """stderr in batches: a line below WARNING waits in memory for at most `flush_s` seconds (or
    until `max_bytes` wait); a WARNING or worse is written at once, after the lines before it.
    A daemon thread flushes every `flush_s`; logging.shutdown (at exit) calls flush()."""

    def __init__(self, stream=None, flush_s: float = 0.2, max_bytes: int = 64 * 1024) -> None:
        super().__init__(stream if stream is not None else sys.stderr)
        self.flush_s = flush_s
        self.max_bytes = max_bytes
        self._lines: list[str] = []
        self._size = 0
        self._flusher: threading.Thread | None = None
        me = weakref.ref(self)  # the fork hook cannot be removed: it must not keep the handler alive
        os.register_at_fork(after_in_child=lambda: _forget_flusher(me()))  # a thread does not survive fork()

    def emit(self, record: logging.LogRecord) -> None:  # called with self.lock held (Handler.handle)
        try:
            line = self.format(record)
        except Exception:  # noqa: BLE001 - what logging's own handlers do with a line that cannot be formatted
            self.handleError(record)
            return
        self._lines.append(line)
        self._size += len(line) + 1
        if record.levelno >= logging.WARNING or self._size >= self.max_bytes or self.flush_s <= 0:
            self._write()
        elif self._flusher is None:
            self._flusher = threading.Thread(target=self._flush_every, name="log-flush", daemon=True)
            self._flusher.start()

    def _write(self) -> None:
        if not self._lines:
            return
        text = "\n".join(self._lines) + "\n"
        self._lines.clear()
        self._size = 0
        try:
            self.stream.write(text)
            self.stream.flush()
        except Exception:  # noqa: BLE001 - stderr closed or full: as logging's StreamHandler, never raise
            pass

    def flush(self) -> None:
        self.acquire()
        try:
            self._write()
        finally:
            self.release()

    def _flush_every(self) -> None:
        while True:
            time.sleep(self.flush_s)
            self.flush()


def _forget_flusher(handler: LineHandler | None) -> None:
    """In a forked child: no flusher thread (threads do not survive fork()), and the lines waiting
    are the parent's to write (else both processes would)."""
    if handler is not None:
        handler._flusher = None
        handler._lines = []
        handler._size = 0


def setup_logging(service: str, level: str = "INFO") -> None:
    # what JsonFormatter never writes is not gathered per record either (the logging HOWTO's
    # "Optimization": no caller frame lookup, no thread or process names): 3-4 us per line
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    handler = LineHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "aio_pika", "aiormq"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
    logging.getLogger("aiormq").setLevel("WARNING")
    logging.getLogger("aio_pika").setLevel("WARNING")


def mask_ip(address: str) -> str:
    """`203.0.113.77:51234` -> `203.0.113.0`, an IPv6 address -> its /48 (`2001:db8:1::`)."""
    import ipaddress

    host = address.rsplit(":", 1)[0] if address.count(":") == 1 else address
    host = host.strip("[]")
    if "]:" in address:
        host = address.split("]:")[0].strip("[")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return "[masked]"
    bits = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{bits}", strict=False).network_address)


class _MaskClient(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and record.args and isinstance(record.args[0], str):
            record.args = (mask_ip(record.args[0]), *record.args[1:])
        return True


_MASK = _MaskClient()


def mask_client_ip(enabled: bool) -> None:
    """Mask the client address of uvicorn's access log lines (OBS_MASK_CLIENT_IP)."""
    access = logging.getLogger("uvicorn.access")
    if enabled:
        access.addFilter(_MASK)
    else:
        access.removeFilter(_MASK)


def uvicorn_log_config() -> dict:
    """Keep uvicorn from installing its own text handlers; ours (JSON) stay in place."""
    return {"version": 1, "disable_existing_loggers": False}
