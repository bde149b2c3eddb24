"""OpenAPI description of POST /v1/events (a raw ASGI endpoint, so FastAPI cannot derive it): every
status it answers, with its body and headers. The `Event` schema is generated from the event schema
(observatory.events.openapi)."""

from __future__ import annotations

from typing import Any

from observatory.settings import IngestSettings

_ERROR = {
    "application/json": {
        "schema": {
            "type": "object",
            "required": ["error", "message"],
            "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
        }
    }
}
_RESULT = {
    "application/json": {
        "schema": {
            "type": "object",
            "required": ["accepted", "rejected"],
            "properties": {
                "accepted": {"type": "integer", "minimum": 0},
                "rejected": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["index", "reason", "code"],
                        "properties": {
                            "index": {"type": "integer"},
                            "reason": {"type": "string"},
                            "code": {"type": "string"},
                        },
                    },
                },
            },
        }
    }
}
_RETRY = {"Retry-After": {"description": "seconds", "required": True, "schema": {"type": "integer"}}}
EXAMPLE = {
    "event_name": "purchase_completed",
    "user_id": "u-42",
    "session_id": "s-1",
    "properties": {
        "order_id": "o-1",
        "total_value": 59.9,
        "payment_method": "card",
        "items": [{"product_id": "p-7", "quantity": 1, "price": 59.9}],
    },
}


def events_operation(settings: IngestSettings) -> dict[str, Any]:
    # a batch's items are validated one by one: the valid Events are accepted, the others listed as
    # rejected (202), so the array itself takes any JSON values (each SHOULD be an Event)
    batch = {
        "type": "array",
        "items": {},
        "minItems": 1,
        "maxItems": settings.max_batch,
        "description": "each item is validated as an `Event`; valid ones are accepted, the others "
        "listed in `rejected`; no valid item: 400",
    }
    return {
        "post": {
            "summary": f"Send one event or a batch of up to {settings.max_batch:,}",
            "description": "202 only once RabbitMQ confirmed the events. Valid events of a batch are accepted and "
            "invalid ones listed with their index and reason. The body is at most "
            f"{settings.max_body_bytes} bytes.",
            "operationId": "send_events",
            "security": [{"ingestKey": []}],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {"oneOf": [{"$ref": "#/components/schemas/Event"}, batch]},
                        "example": EXAMPLE,
                    }
                },
            },
            "responses": {
                "202": {
                    "description": "accepted (durably queued); invalid events of a batch are listed",
                    "content": _RESULT,
                },
                "400": {
                    "description": "malformed JSON, empty batch, or no valid event (listed)",
                    "content": {
                        "application/json": {
                            "schema": {
                                "oneOf": [_RESULT["application/json"]["schema"], _ERROR["application/json"]["schema"]]
                            }
                        }
                    },
                },
                "401": {
                    "description": "missing or unknown API key",
                    "content": _ERROR,
                    "headers": {"WWW-Authenticate": {"schema": {"type": "string"}, "required": True}},
                },
                "413": {
                    "description": "body over the size limit, more events than the batch limit, or more "
                    "than the key's rate-limit burst (such a request can never pass)",
                    "content": _ERROR,
                },
                "415": {"description": "Content-Type is not application/json", "content": _ERROR},
                "429": {"description": "rate limited", "content": _ERROR, "headers": _RETRY},
                "503": {
                    "description": "the broker did not confirm; nothing was accepted",
                    "content": _ERROR,
                    "headers": _RETRY,
                },
            },
        }
    }
