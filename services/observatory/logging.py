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
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
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
