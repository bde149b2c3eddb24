"""Personal data out of logs and span attributes.

Three rules, applied to every log line (a logging hook) and to every exported span
(RedactingExporter, below, which observatory.tracing wraps around its OTLP exporter):
  - e-mail addresses anywhere in a string become `[email]` (also percent-encoded: `a%40b.com`);
  - card-like numbers become `[card]`: 13-19 digits, contiguous or in groups of four (or the 4-6-5
    Amex layout) separated by one space or hyphen, that pass the Luhn check (the check keeps ids,
    counters and millisecond timestamps readable: only one in ten random digit runs passes it);
  - the value under a configured property name (OBS_REDACT_PROPERTIES, case-insensitive, at any
    depth of a mapping) becomes `[redacted]`.
Stored events are not touched: this is about telemetry, which has wider readership and retention.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}", re.IGNORECASE)
CARD = re.compile(r"(?<![\w-])(?:\d{13,19}|\d{4}([ -])\d{4}\1\d{4}\1\d{1,7}|\d{4}([ -])\d{6}\2\d{5})(?![\w-])")
DEFAULT_PROPERTIES = "email,phone,phone_number,card_number,password,iban,ssn,ip_address"
MASK = "[redacted]"
# log fields written by the formatter itself: never personal data, not worth scanning
_LOG_FIXED = frozenset(
    {"timestamp", "level", "service", "logger", "trace_id", "span_id", "request_id", "trace_sampled"}
)


def luhn_ok(digits: str) -> bool:
    total, double = 0, False
    for ch in reversed(digits):
        d = ord(ch) - 48
        if double:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
        double = not double
    return total % 10 == 0


def _card(match: re.Match) -> str:
    digits = re.sub(r"[ -]", "", match.group(0))
    return "[card]" if 13 <= len(digits) <= 19 and luhn_ok(digits) else match.group(0)


class Redactor:
    def __init__(self, properties: Iterable[str] = ()) -> None:
        self.properties = frozenset(p.strip().lower() for p in properties if p.strip())

    @classmethod
    def from_setting(cls, names: str | None) -> Redactor:
        return cls((names or "").split(","))

    def text(self, s: str) -> str:
        if "@" in s or "%40" in s:  # also percent-encoded, as in URLs of access log lines
            s = EMAIL.sub("[email]", s)
        return CARD.sub(_card, s)

    def value(self, v):
        """A copy of `v` with personal data masked (strings, mappings, sequences; other types as-is)."""
        if isinstance(v, str):
            return self.text(v)
        if isinstance(v, dict):
            return {
                k: MASK if isinstance(k, str) and k.lower() in self.properties else self.value(x) for k, x in v.items()
            }
        if isinstance(v, (list, tuple)):
            return type(v)(self.value(x) for x in v)
        return v

    def attribute(self, key: str, v):
        """A span attribute value (str, bool, number or a homogeneous sequence of those)."""
        if key.rsplit(".", 1)[-1].lower() in self.properties:
            return MASK
        if isinstance(v, str):
            return self.text(v)
        if isinstance(v, (list, tuple)) and v and isinstance(v[0], str):
            return tuple(self.text(x) for x in v)
        return v

    def log_doc(self, doc: dict) -> None:
        """Logging hook: mask the finished line in place (message, extras, exception text)."""
        for key, v in doc.items():
            if key in _LOG_FIXED:
                continue
            if key.lower() in self.properties:
                doc[key] = MASK
            elif isinstance(v, (str, dict, list, tuple)):
                doc[key] = self.value(v)


_current = Redactor.from_setting(DEFAULT_PROPERTIES)


def current() -> Redactor:
    return _current


def configure(names: str | None) -> Redactor:
    """Set the process's redactor (property names from OBS_REDACT_PROPERTIES) and mask log lines."""
    global _current
    from observatory.logging import add_enricher

    _current = Redactor.from_setting(names)
    add_enricher(log_hook)
    return _current


def log_hook(doc: dict) -> None:
    _current.log_doc(doc)


# -- spans: the tracing exporter's redaction (observatory.tracing wraps its OTLP exporter in this) --
class RedactingExporter:
    """Wraps the OTLP exporter: every span is copied with personal data masked (observatory.redact)
    before it leaves the process. Runs on the batch processor's thread, not on request paths."""

    def __init__(self, inner) -> None:
        self.inner = inner

    def export(self, spans: Sequence):
        redactor = current()
        return self.inner.export([redact_span(s, redactor) for s in spans])

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.inner.force_flush(timeout_millis)


def _masked(a, redactor) -> dict | None:
    """The attributes with personal data masked, or None when nothing had to change (the usual case:
    the redactor returns the very same objects then, so no copy is made)."""
    if not a:
        return None
    out, changed = {}, False
    for k, v in a.items():
        out[k] = m = redactor.attribute(k, v)
        changed = changed or m is not v and m != v
    return out if changed else None


def redact_span(span, redactor):
    """The span itself when it holds nothing to mask, else a masked copy."""
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.trace import Link, Status

    name = redactor.text(span.name)
    attributes = _masked(span.attributes, redactor)
    events = [_masked(e.attributes, redactor) for e in span.events]
    links = [_masked(link.attributes, redactor) for link in span.links]
    status = span.status
    description = redactor.text(status.description) if status.description else status.description
    if (
        name is span.name
        and attributes is None
        and description is status.description
        and not any(x is not None for x in events)
        and not any(x is not None for x in links)
    ):
        return span
    return ReadableSpan(
        name=name,
        context=span.context,
        parent=span.parent,
        resource=span.resource,
        attributes=attributes if attributes is not None else span.attributes,
        kind=span.kind,
        status=Status(status.status_code, description) if description is not status.description else status,
        events=[Event(e.name, m if m is not None else e.attributes, e.timestamp) for e, m in zip(span.events, events)],
        links=[Link(link.context, m if m is not None else link.attributes) for link, m in zip(span.links, links)],
        start_time=span.start_time,
        end_time=span.end_time,
        instrumentation_scope=span.instrumentation_scope,
    )
