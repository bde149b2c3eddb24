"""Publish one dead letter so that it is either in the dead-letter queue or an error.

Published `mandatory` on the link's confirm-mode channel (opened with on_return_raises): a fanout
exchange without a bound queue would otherwise confirm the message and drop it. A returned message
means the dead-letter queue or its binding is gone (deleted by hand, a broker reset without
definitions): the dead-letter topology is declared again and the message published once more; returned
a second time, or nacked, or not confirmed, it raises, and the caller keeps what it holds (the consumer
retries its batch un-acked; ingest counts the failure)."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

import aio_pika
from aiormq.exceptions import PublishError as Returned

from observatory.broker import topology
from observatory.broker.connection import BrokerLink

log = logging.getLogger("observatory.broker")


class DeadLetterReturned(Exception):
    """The broker returned a dead letter as unroutable even after the topology was declared again."""


def dead_letter_message(body: bytes, reason: str, detail: str, headers: Mapping[str, object] = {}) -> aio_pika.Message:
    """A dead letter: the body as it was, `headers` (plain values only; e.g. the original message's),
    then the reason code, the error text and the time."""
    return aio_pika.Message(
        body=body,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        content_type="application/json",
        headers={
            **{k: v for k, v in headers.items() if isinstance(v, (str, int, float, bool))},
            "x-observatory-reason": reason,
            "x-observatory-error": detail[:1000],
            "x-observatory-dead-lettered-at": int(time.time()),
        },
    )


async def publish_dead_letter(link: BrokerLink, message: aio_pika.Message) -> None:
    """Return once the broker confirmed `message` into the dead-letter queue; raise otherwise."""
    dlx, channel = link.dlx, link.channel
    if dlx is None or channel is None:
        raise ConnectionError("message broker unavailable")
    try:
        await dlx.publish(message, routing_key="", mandatory=True)
        return
    except Returned:
        log.warning(
            "dead letter returned as unroutable; declaring the dead-letter queue again",
            extra={"exchange": link.settings.dead_letter_exchange, "queue": link.settings.dead_letter_queue},
        )
    dlx = await topology.declare_dead_letter(channel, link.settings)
    try:
        await dlx.publish(message, routing_key="", mandatory=True)
    except Returned as exc:
        raise DeadLetterReturned(
            f"dead letter returned as unroutable by {link.settings.dead_letter_exchange} after declaring it again"
        ) from exc
