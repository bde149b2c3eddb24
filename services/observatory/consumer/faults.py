"""Insert failures by kind, and isolating the rows ClickHouse refuses.

A *data error* means ClickHouse refused the rows themselves (a constraint, a value it cannot
parse or store): the same rows fail the same way on every retry, so retrying would block the queue
for good. Everything else (store unreachable, timeouts, server errors, a missing table the operator
will repair) is *transient*: the consumer keeps the batch and retries.

The kind comes from ClickHouse's numeric error code, which clickhouse-connect gives on its
exceptions (`.code`) over HTTP and with embedded chDB alike; the "Code: N." prefix of the message
is the fallback. Only codes in DATA_ERROR_CODES are data errors: an unknown code is transient, so a
new kind of outage is never mistaken for bad rows.

`insert_isolating` bisects a batch that raised a data error until each refused item stands alone;
it knows nothing about what an item is (the sink's insert decides), so it works for any batch shape.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import TypeVar

import orjson

T = TypeVar("T")

# https://github.com/ClickHouse/ClickHouse/blob/master/src/Common/ErrorCodes.cpp
DATA_ERROR_CODES = {
    6: "CANNOT_PARSE_TEXT",
    26: "CANNOT_PARSE_QUOTED_STRING",
    27: "CANNOT_PARSE_INPUT_ASSERTION_FAILED",
    38: "CANNOT_PARSE_DATE",
    41: "CANNOT_PARSE_DATETIME",
    53: "TYPE_MISMATCH",
    69: "ARGUMENT_OUT_OF_BOUND",
    70: "CANNOT_CONVERT_TYPE",
    72: "CANNOT_PARSE_NUMBER",
    117: "INCORRECT_DATA",
    131: "TOO_LARGE_STRING_SIZE",
    321: "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE",
    349: "CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN",
    376: "CANNOT_PARSE_UUID",
    395: "FUNCTION_THROW_IF_VALUE_IS_NON_ZERO",
    407: "DECIMAL_OVERFLOW",
    469: "VIOLATED_CONSTRAINT",
    691: "UNKNOWN_ELEMENT_OF_ENUM",
}
_CODE = re.compile(r"Code:\s*(\d+)")


class DataError(Exception):
    """ClickHouse refused the rows themselves; retrying them cannot succeed."""

    def __init__(self, code: int, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.name = DATA_ERROR_CODES.get(code, "")


def error_code(exc: BaseException) -> int | None:
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return code
    match = _CODE.search(str(exc))
    return int(match.group(1)) if match else None


def as_data_error(exc: BaseException) -> DataError | None:
    """The DataError this insert failure stands for, or None when it is transient."""
    code = error_code(exc)
    if code in DATA_ERROR_CODES:
        return DataError(code, str(exc))
    return None


async def insert_isolating(insert: Callable[[list[T]], Awaitable[object]], items: list[T]
                           ) -> tuple[object, list[tuple[T, DataError]]]:
    """Insert `items`; when ClickHouse refuses some, bisect until each refused item is alone.

    Returns (the last insert's result, [(refused item, its DataError)]). Transient errors propagate
    (the caller retries the whole batch; rows already inserted collapse on event_id).
    """
    refused: list[tuple[T, DataError]] = []
    result: object = None
    stack = [items]
    while stack:
        part = stack.pop()
        if not part:
            continue
        try:
            result = await insert(part)
        except DataError as exc:
            if len(part) == 1:
                refused.append((part[0], exc))
            else:
                mid = len(part) // 2
                stack += [part[mid:], part[:mid]]  # the first half is tried first
    return result, refused


def item_body(item: object, columns: tuple[str, ...] = ()) -> bytes:
    """A refused batch item as the JSON of an event (what the dead-letter queue keeps).

    Raw JSON items are kept as they are (the consumer's decode.Item: its `json`); a row (a list of
    column values) becomes an object keyed by `columns`, with `properties` parsed back from its
    JSON text, so the event can be replayed.
    """
    text = getattr(item, "json", None)
    if text is not None:
        return bytes(text)
    if isinstance(item, (bytes, bytearray)):
        return bytes(item)
    if isinstance(item, str):
        return item.encode()
    if isinstance(item, dict):
        return orjson.dumps(item, default=str)
    event = dict(zip(columns, item))
    props = event.get("properties")
    if isinstance(props, str):
        try:
            event["properties"] = orjson.loads(props)
        except orjson.JSONDecodeError:
            pass
    return orjson.dumps(event, default=str)
