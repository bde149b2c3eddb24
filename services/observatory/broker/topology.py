"""The RabbitMQ topology as code: declared idempotently by every service at start, and exported
as a definitions file for the compose broker (config/rabbitmq/definitions.json).

events (direct exchange) --"events"--> events (durable classic queue)
   queue arguments: dead-letter exchange events.dlx, max-length with reject-publish overflow (a
   stalled consumer makes publishers get nacks, so ingest answers 503 instead of filling the disk),
   message TTL 7 days (expired messages are dead-lettered, not lost silently)
events.dlx (fanout exchange) --> events.dead (durable queue, no limit: it is alerted on instead)
"""

from __future__ import annotations

import aio_pika

from observatory.settings import BrokerSettings

ROUTING_KEY = "events"


def queue_arguments(s: BrokerSettings) -> dict:
    return {
        "x-dead-letter-exchange": s.dead_letter_exchange,
        "x-max-length": s.max_length,
        "x-overflow": "reject-publish",
        "x-message-ttl": s.message_ttl_ms,
        "x-queue-type": "classic",
    }


async def declare(channel: aio_pika.abc.AbstractChannel, s: BrokerSettings):
    """Declare everything; returns (exchange, queue, dead-letter exchange). Safe to call repeatedly."""
    exchange = await channel.declare_exchange(s.exchange, aio_pika.ExchangeType.DIRECT, durable=True)
    dlx = await channel.declare_exchange(s.dead_letter_exchange, aio_pika.ExchangeType.FANOUT, durable=True)
    queue = await channel.declare_queue(s.queue, durable=True, arguments=queue_arguments(s))
    dead = await channel.declare_queue(s.dead_letter_queue, durable=True, arguments={"x-queue-type": "classic"})
    await queue.bind(exchange, routing_key=ROUTING_KEY)
    await dead.bind(dlx, routing_key="")
    return exchange, queue, dlx


def definitions(s: BrokerSettings, vhost: str = "/", users: list[dict] | None = None) -> dict:
    """The same topology in RabbitMQ's definitions format (import at boot, no management plugin needed)."""
    doc = {
        "rabbit_version": "4.3.5",
        "users": users or [],
        "vhosts": [{"name": vhost}],
        "permissions": [
            {"user": u["name"], "vhost": vhost, "configure": ".*", "write": ".*", "read": ".*"}
            for u in users or []
        ],
        "exchanges": [
            {"name": s.exchange, "vhost": vhost, "type": "direct", "durable": True, "auto_delete": False,
             "internal": False, "arguments": {}},
            {"name": s.dead_letter_exchange, "vhost": vhost, "type": "fanout", "durable": True,
             "auto_delete": False, "internal": False, "arguments": {}},
        ],
        "queues": [
            {"name": s.queue, "vhost": vhost, "durable": True, "auto_delete": False,
             "arguments": queue_arguments(s)},
            {"name": s.dead_letter_queue, "vhost": vhost, "durable": True, "auto_delete": False,
             "arguments": {"x-queue-type": "classic"}},
        ],
        "bindings": [
            {"source": s.exchange, "vhost": vhost, "destination": s.queue, "destination_type": "queue",
             "routing_key": ROUTING_KEY, "arguments": {}},
            {"source": s.dead_letter_exchange, "vhost": vhost, "destination": s.dead_letter_queue,
             "destination_type": "queue", "routing_key": "", "arguments": {}},
        ],
    }
    return doc
