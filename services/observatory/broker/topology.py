"""The RabbitMQ topology as code: declared idempotently by every service at start, and exported
as a definitions file for the compose broker (config/rabbitmq/definitions.json).

events (direct exchange) --"events"--> events (durable queue, classic or quorum: OBS_AMQP_QUEUE_TYPE)
   queue arguments: dead-letter exchange events.dlx, max-length with reject-publish overflow (a
   stalled consumer makes publishers get nacks, so ingest answers 503 instead of filling the disk),
   message TTL 7 days (expired messages are dead-lettered, not lost silently)
   quorum adds: a delivery limit (a message redelivered that often, e.g. one that crashes the consumer
   each time, is dead-lettered) and at-least-once dead-lettering (the message leaves the queue only
   once the dead-letter queue confirmed it; RabbitMQ >= 3.10, requires reject-publish overflow)
events.dlx (fanout exchange) --> events.dead (durable queue of the same type, no limit: it is alerted on)
"""

from __future__ import annotations

import aio_pika

from observatory.settings import BrokerSettings

ROUTING_KEY = "events"


def queue_arguments(s: BrokerSettings) -> dict:
    args = {
        "x-dead-letter-exchange": s.dead_letter_exchange,
        "x-max-length": s.max_length,
        "x-overflow": "reject-publish",
        "x-message-ttl": s.message_ttl_ms,
        "x-queue-type": s.queue_type,
    }
    if s.queue_type == "quorum":
        args["x-delivery-limit"] = s.delivery_limit
        args["x-dead-letter-strategy"] = "at-least-once"
    return args


def dead_letter_queue_arguments(s: BrokerSettings) -> dict:
    return {"x-queue-type": s.queue_type}


async def declare(channel: aio_pika.abc.AbstractChannel, s: BrokerSettings):
    """Declare everything; returns (exchange, queue, dead-letter exchange). Safe to call repeatedly."""
    exchange = await channel.declare_exchange(s.exchange, aio_pika.ExchangeType.DIRECT, durable=True)
    dlx = await declare_dead_letter(channel, s)
    queue = await channel.declare_queue(s.queue, durable=True, arguments=queue_arguments(s))
    await queue.bind(exchange, routing_key=ROUTING_KEY)
    return exchange, queue, dlx


async def declare_dead_letter(channel: aio_pika.abc.AbstractChannel, s: BrokerSettings):
    """The dead-letter exchange, its queue and their binding; returns the exchange. Safe to call repeatedly
    (a dead letter the broker returned as unroutable: the queue was deleted; broker/deadletter.py)."""
    dlx = await channel.declare_exchange(s.dead_letter_exchange, aio_pika.ExchangeType.FANOUT, durable=True)
    dead = await channel.declare_queue(s.dead_letter_queue, durable=True, arguments=dead_letter_queue_arguments(s))
    await dead.bind(dlx, routing_key="")
    return dlx


def definitions(s: BrokerSettings, vhost: str = "/", users: list[dict] | None = None) -> dict:
    """The same topology in RabbitMQ's definitions format (import at boot, no management plugin needed)."""
    doc = {
        "rabbit_version": "4.3.5",
        "users": users or [],
        "vhosts": [{"name": vhost}],
        "permissions": [
            {"user": u["name"], "vhost": vhost, "configure": ".*", "write": ".*", "read": ".*"} for u in users or []
        ],
        "exchanges": [
            {
                "name": s.exchange,
                "vhost": vhost,
                "type": "direct",
                "durable": True,
                "auto_delete": False,
                "internal": False,
                "arguments": {},
            },
            {
                "name": s.dead_letter_exchange,
                "vhost": vhost,
                "type": "fanout",
                "durable": True,
                "auto_delete": False,
                "internal": False,
                "arguments": {},
            },
        ],
        "queues": [
            {"name": s.queue, "vhost": vhost, "durable": True, "auto_delete": False, "arguments": queue_arguments(s)},
            {
                "name": s.dead_letter_queue,
                "vhost": vhost,
                "durable": True,
                "auto_delete": False,
                "arguments": dead_letter_queue_arguments(s),
            },
        ],
        "bindings": [
            {
                "source": s.exchange,
                "vhost": vhost,
                "destination": s.queue,
                "destination_type": "queue",
                "routing_key": ROUTING_KEY,
                "arguments": {},
            },
            {
                "source": s.dead_letter_exchange,
                "vhost": vhost,
                "destination": s.dead_letter_queue,
                "destination_type": "queue",
                "routing_key": "",
                "arguments": {},
            },
        ],
    }
    return doc
