"""Insert failures by kind, and isolating the rows ClickHouse refuses.

A *data error* means ClickHouse refused the rows themselves (a constraint, a value it cannot
parse or store): the same rows fail the same way on every retry, so retrying would block the queue
for good. Everything else (store unreachable, timeouts, server errors, a missing table the operator
will repair) is *transient*: the consumer keeps the batch and retries.

Which ClickHouse errors are data errors is the store's knowledge (store/errors.py, by error code;
an unknown code is transient, so a new kind of outage is never mistaken for bad rows).

`insert_isolating` bisects a batch that raised a data error until each refused item stands alone;
it knows nothing about what an item is (the sink's insert decides), so it works for any batch shape.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar, cast

import orjson

from observatory.store.errors import DataError

T = TypeVar("T")
R = TypeVar("R")


async def insert_isolating(
    insert: Callable[[list[T]], Awaitable[R]], items: list[T]
) -> tuple[R | None, list[tuple[T, DataError]]]:
    """Insert `items`; when ClickHouse refuses some, bisect until each refused item is alone.

    Returns (the last insert's result (None: no insert went through), [(refused item, its DataError)]). Transient errors propagate
    (the caller retries the whole batch; rows already inserted collapse on event_id).
    """
    refused: list[tuple[T, DataError]] = []
    result: R | None = None
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
    event = dict(zip(columns, cast(Iterable[object], item)))
    props = event.get("properties")
    if isinstance(props, str):
        try:
            event["properties"] = orjson.loads(props)
        except orjson.JSONDecodeError:
            pass
    return orjson.dumps(event, default=str)
