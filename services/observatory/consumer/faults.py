"""Insert failures by kind, and isolating the rows ClickHouse refuses.

A *data error* means ClickHouse refused the rows themselves (a constraint, a value it cannot
parse or store): the same rows fail the same way on every retry, so retrying would block the queue
for good. Everything else (store unreachable, timeouts, server errors, a missing table the operator
will repair) is *transient*: the consumer keeps the batch and retries.

Which ClickHouse errors are data errors is the store's knowledge (store/errors.py, by error code;
an unknown code is transient, so a new kind of outage is never mistaken for bad rows).

`insert_isolating` bisects a batch that raised a data error until each refused item stands alone;
it knows nothing about what an item is (the sink's insert decides), so it works for any batch shape.

Errors while taking ONE message (decoding, enriching) are of two kinds too (`environmental`): a fault
of the consumer's environment (the GeoIP database missing: events.enrich.EnrichmentUnavailable, an
OSError, a module that cannot be imported, memory) would hit every message alike, so the consumer
holds the messages un-acked and retries; anything else is specific to that message and dead-letters
it (reason `consumer_error`). `ack_plan` decides how a flushed batch is acked so that an ack never
covers a delivery that is neither stored nor dead-lettered.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Iterable
from typing import TypeVar, cast

import orjson

from observatory.events.enrich import EnrichmentUnavailable
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


ENVIRONMENT_FAULTS: tuple[type[BaseException], ...] = (EnrichmentUnavailable, OSError, ImportError, MemoryError)


def environmental(exc: BaseException) -> bool:
    """True when an error taking one message is the environment's (hold the messages, retry), False when
    it is the message's own (dead-letter it)."""
    return isinstance(exc, ENVIRONMENT_FAULTS)


def ack_plan(settled: Iterable[int], unsettled: Collection[int]) -> tuple[int | None, list[int]]:
    """How to ack the deliveries `settled` (stored or dead-lettered) while `unsettled` ones (received on
    the same channel, neither stored nor dead-lettered yet, nor acked) must stay un-acked.

    Returns (tag for ONE multiple-ack (None: none), [tags to ack one by one]): the multiple-ack covers
    every settled tag below the lowest unsettled one (a multiple-ack covers all un-acked tags up to its
    own, so it must stop short of any unsettled delivery); settled tags above it are acked singly.
    """
    tags = sorted(set(settled) - set(unsettled))
    if not tags:
        return None, []
    floor = min(unsettled, default=None)
    below = [t for t in tags if floor is None or t < floor]
    return (below[-1] if below else None), [t for t in tags if floor is not None and t > floor]
