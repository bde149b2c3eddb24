"""One JSON object per log line, for every service and for uvicorn's access log."""

from __future__ import annotations

import logging
import sys
import time
from contextvars import ContextVar

import orjson

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
_RESERVED = set(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "color_message"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        doc = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = request_id_var.get()
        if rid:
            doc["request_id"] = rid
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


def setup_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
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


def uvicorn_log_config() -> dict:
    """Keep uvicorn from installing its own text handlers; ours (JSON) stay in place."""
    return {"version": 1, "disable_existing_loggers": False}
