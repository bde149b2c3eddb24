"""Publish batches of validated events with publisher confirms.

A call returns only once RabbitMQ confirmed the message (persisted to the durable queue). Many
concurrent calls share one confirm-mode channel, so confirms are pipelined: requests do not wait
for each other's confirms. A nack (queue full: reject-publish), a timeout or a closed connection
raises PublishError, which ingest turns into 503.
"""

from __future__ import annotations

import asyncio
import time
import uuid

import aio_pika
import orjson
from aiormq.exceptions import DeliveryError
from aiormq.exceptions import PublishError as AmqpPublishError
from pamqp.commands import Basic

from observatory.broker.connection import BrokerLink
from observatory.broker.topology import ROUTING_KEY

CONTENT_TYPE = "application/vnd.observatory.events+json"


class PublishError(Exception):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason  # bounded code: unavailable | nack | timeout | returned


def encode_batch(events: list[dict], headers: dict | None = None) -> aio_pika.Message:
    return aio_pika.Message(
        body=orjson.dumps(events),
        content_type=CONTENT_TYPE,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=str(uuid.uuid4()),
        timestamp=time.time(),
        headers={"x-event-count": len(events), **(headers or {})},
    )


class Publisher:
    def __init__(self, link: BrokerLink, confirm_timeout_s: float) -> None:
        self.link = link
        self.confirm_timeout_s = confirm_timeout_s

    async def publish(self, message: aio_pika.Message) -> None:
        exchange = self.link.exchange
        if exchange is None or not self.link.up.is_set():
            raise PublishError("unavailable", "message broker unavailable")
        try:
            confirmation = await asyncio.wait_for(
                exchange.publish(message, routing_key=ROUTING_KEY, mandatory=True), self.confirm_timeout_s)
        except asyncio.TimeoutError as exc:
            raise PublishError("timeout", "message broker did not confirm in time") from exc
        except AmqpPublishError as exc:  # subclass of DeliveryError: unroutable (Basic.Return)
            raise PublishError("returned", "message broker could not route the message") from exc
        except DeliveryError as exc:
            raise PublishError("nack", "message broker refused the message (queue full?)") from exc
        except (aio_pika.exceptions.AMQPError, ConnectionError, RuntimeError) as exc:
            raise PublishError("unavailable", f"message broker unavailable: {exc}") from exc
        if not isinstance(confirmation, Basic.Ack):
            raise PublishError("nack", "message broker did not acknowledge the message")
