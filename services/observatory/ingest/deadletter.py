"""Invalid events of an SDK batch go to the dead-letter queue (events.dead), one message each, with
the same reason headers the consumer writes; published with confirms (and `mandatory`:
broker/deadletter.py) before the request is answered."""

from __future__ import annotations

import asyncio

import orjson

from observatory.broker.connection import BrokerLink
from observatory.broker.deadletter import dead_letter_message, publish_dead_letter
from observatory.broker.publisher import PublishError


class DeadLetters:
    def __init__(self, link: BrokerLink, confirm_timeout_s: float) -> None:
        self.link, self.timeout = link, confirm_timeout_s

    async def publish(self, items: list[tuple[object, str, str]], source: str, door: str) -> None:
        """items: (original event as sent, reason code, message). Raises PublishError unless all confirmed."""
        dlx = self.link.dlx
        if dlx is None or not self.link.up.is_set():
            raise PublishError("unavailable", "message broker unavailable")
        messages = [
            dead_letter_message(
                orjson.dumps(original, default=str),
                code,
                message,
                {"x-observatory-source": source, "x-observatory-door": door},
            )
            for original, code, message in items
        ]
        try:
            await asyncio.wait_for(asyncio.gather(*(publish_dead_letter(self.link, m) for m in messages)), self.timeout)
        except TimeoutError as exc:
            raise PublishError("timeout", "message broker did not confirm the dead letters in time") from exc
        except Exception as exc:  # noqa: BLE001 - nack, returned, closed channel: not dead-lettered
            raise PublishError("unavailable", f"dead letters not confirmed: {exc}") from exc
