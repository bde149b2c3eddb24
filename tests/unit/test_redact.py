"""Personal data masking for logs and span attributes (observatory.redact, its RedactingExporter for spans)."""

from __future__ import annotations

import logging
import sys

import orjson
import pytest

from observatory import redact
from observatory.logging import JsonFormatter, add_enricher
from observatory.redact import Redactor, luhn_ok
from observatory.settings import CommonSettings

R = Redactor.from_setting(CommonSettings().redact_properties)


@pytest.mark.parametrize(
    "text,expected",
    [
        ("contact alice.smith+shop@example.co.uk now", "contact [email] now"),
        ("GET /v1/users/alice%40example.com HTTP/1.1", "GET /v1/users/[email] HTTP/1.1"),
        ("two: a@b.io, C.D@E.ORG", "two: [email], [email]"),
        ("card 4111111111111111 end", "card [card] end"),
        ("card 4111 1111 1111 1111 end", "card [card] end"),
        ("card 5500-0000-0000-0004.", "card [card]."),
        ("amex 3782 822463 10005", "amex [card]"),
        ("/v1/cards/4111111111111111", "/v1/cards/[card]"),
    ],
)
def test_emails_and_card_numbers_are_masked(text, expected):
    assert R.text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "order 4111111111111112 (Luhn fails)",
        "ts 1732356000123 ms",  # 13 digits, not Luhn-valid
        "event 0190a1b2-3c4d-7e5f-8a9b-123456789012",  # a UUID keeps its digits
        "user u-1234-5678-9012-3456-x",  # glued to other characters: an id, not a card
        "at a@b (no domain)",
        "took 12.5 ms, 40000 rows",
        "phone +49 30 1234567",
    ],
)
def test_ordinary_text_is_left_alone(text):
    assert R.text(text) == text


def test_luhn():
    assert luhn_ok("4111111111111111") and luhn_ok("378282246310005") and not luhn_ok("4111111111111112")


def test_configured_property_names_are_masked_at_any_depth_case_insensitively():
    r = Redactor.from_setting(" Phone , card_number,secret_code ")
    doc = {
        "plan": "pro",
        "PHONE": "+49 30 1234567",
        "nested": [{"Secret_Code": 1234, "ok": "x@y.com"}],
        "card_number": "not-a-card-but-masked",
    }
    assert r.value(doc) == {
        "plan": "pro",
        "PHONE": "[redacted]",
        "nested": [{"Secret_Code": "[redacted]", "ok": "[email]"}],
        "card_number": "[redacted]",
    }
    assert doc["PHONE"] == "+49 30 1234567", "the caller's data is not modified"


def test_the_setting_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("OBS_REDACT_PROPERTIES", "iban,tax_id")
    assert Redactor.from_setting(CommonSettings().redact_properties).properties == {"iban", "tax_id"}


def test_span_attribute_rules():
    assert R.attribute("user.email", "whatever") == "[redacted]"
    assert R.attribute("url.path", "/v1/users/a@b.com") == "/v1/users/[email]"
    assert R.attribute("tags", ("a@b.com", "x")) == ("[email]", "x")
    assert R.attribute("http.response.status_code", 200) == 200


def test_log_lines_are_masked_message_extras_and_exception(monkeypatch):
    monkeypatch.setattr(redact, "_current", Redactor.from_setting("phone"))
    add_enricher(redact.log_hook)
    fmt = JsonFormatter("test")
    try:
        raise ValueError("cannot parse bob@example.org")
    except ValueError:
        exc_info = sys.exc_info()
    record = logging.LogRecord(
        "observatory.x",
        logging.WARNING,
        __file__,
        1,
        "user %s paid with %s",
        ("alice@example.com", "4111 1111 1111 1111"),
        exc_info,
    )
    record.properties = {"phone": "+49 30 1234567", "note": "mail carol@example.net"}
    record.phone = "+1 555 0100"
    line = fmt.format(record)
    for secret in ("alice@example.com", "4111 1111 1111 1111", "bob@example.org", "1234567", "carol@", "0100"):
        assert secret not in line
    doc = orjson.loads(line)
    assert doc["message"] == "user [email] paid with [card]"
    assert doc["properties"] == {"phone": "[redacted]", "note": "mail [email]"}
    assert doc["phone"] == "[redacted]"
    assert "cannot parse [email]" in doc["exception"]
    assert doc["service"] == "test" and doc["level"] == "warning"


def test_exported_spans_are_masked():
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.trace import Status, StatusCode

    from observatory.redact import RedactingExporter

    class Keep:
        def __init__(self):
            self.spans = []

        def export(self, spans):
            self.spans.extend(spans)

        def shutdown(self):
            pass

        def force_flush(self, timeout_millis=0):
            return True

    inner = Keep()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(RedactingExporter(inner)))
    with provider.get_tracer("t").start_as_current_span(
        "GET /v1/users/a@b.com", record_exception=False, set_status_on_exception=False
    ) as span:
        span.set_attributes({"url.path": "/v1/users/a@b.com", "enduser.email": "x", "n": 3})
        span.record_exception(RuntimeError("row 4111111111111111 refused"))
        span.set_status(Status(StatusCode.ERROR, "for a@b.com"))
    provider.shutdown()
    (s,) = inner.spans
    assert s.name == "GET /v1/users/[email]"
    assert dict(s.attributes) == {"url.path": "/v1/users/[email]", "enduser.email": "[redacted]", "n": 3}
    assert s.events[0].attributes["exception.message"] == "row [card] refused"
    assert s.status.description == "for [email]"
