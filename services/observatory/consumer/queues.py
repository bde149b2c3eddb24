"""Queue depth for the consumer's metrics: the work and dead-letter queues sampled on a side channel."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from observatory.broker.connection import BrokerLink
from observatory.metrics import ConsumerMetrics

log = logging.getLogger("observatory.consumer")


async def poll_queues(
    link: BrokerLink, names: tuple[str, ...], metrics: ConsumerMetrics, interval_s: float, stopping: Callable[[], bool]
) -> None:
    """Every `interval_s`, set observatory_queue_messages / _consumers of `names` (best effort: a failed
    sample leaves the gauges stale) until `stopping()` or cancelled."""
    while not stopping():
        conn = link.connection
        if conn is not None and not conn.is_closed:
            try:
                channel = await conn.channel()
                try:
                    for name in names:
                        q = await channel.declare_queue(name, passive=True)
                        res = q.declaration_result
                        metrics.queue_messages.labels(queue=name).set(res.message_count or 0)
                        metrics.queue_consumers.labels(queue=name).set(res.consumer_count or 0)
                finally:
                    await channel.close()
            except Exception as exc:  # noqa: BLE001 - sampling is best effort; the gauge goes stale
                log.debug("queue poll failed: %s", exc)
        try:
            await asyncio.sleep(interval_s)
        except asyncio.CancelledError:
            return
