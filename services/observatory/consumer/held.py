"""Messages the consumer holds un-acked while its environment is at fault (consumer/faults.py).

Taking a message (decode, enrich) that fails with an environment fault (the GeoIP database missing,
an OSError, ...) would fail the same way for every message, so acking or dead-lettering it would be
wrong: the message is held, and every later one too (in delivery order; the prefetch window bounds
them, so the broker sends no more). A retry task takes them again, oldest first, with exponential
backoff, until all are taken; a lost channel drops them (`clear`: the broker redelivers them).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from aio_pika.abc import AbstractIncomingMessage

log = logging.getLogger("observatory.consumer")


class Held:
    def __init__(
        self,
        take: Callable[[AbstractIncomingMessage], None],
        changed: Callable[[], None],
        on_task_done: Callable[[asyncio.Task[None]], None],
        initial_s: float,
        max_s: float,
    ) -> None:
        """`take` raises only for environment faults; `changed` runs when the held count changes."""
        self.take, self.changed, self.on_task_done = take, changed, on_task_done
        self.initial_s, self.max_s = initial_s, max_s
        self.messages: list[AbstractIncomingMessage] = []
        self.task: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self.messages)

    def hold(self, message: AbstractIncomingMessage, exc: Exception | None) -> None:
        """Hold `message` (`exc`: the fault that made it the first one held, None for later ones)."""
        self.messages.append(message)
        if exc is not None:
            log.error(
                "environment fault taking messages; holding them un-acked and retrying: %s",
                exc,
                extra={"error_class": type(exc).__name__, "held": len(self.messages)},
            )
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._retry(), name="consumer-held-retry")
            self.task.add_done_callback(self.on_task_done)
        self.changed()

    def clear(self) -> None:
        """Forget the held messages (their channel is gone: the broker redelivers them)."""
        self.messages = []
        self.changed()

    def cancel(self) -> None:
        if self.task is not None:
            self.task.cancel()
        if self.messages:
            log.warning("stopping with messages held; the broker redelivers them", extra={"held": len(self.messages)})

    async def _retry(self) -> None:
        delay = self.initial_s
        while self.messages:
            await asyncio.sleep(delay)
            while self.messages:
                try:
                    self.take(self.messages[0])
                except Exception as exc:  # noqa: BLE001 - only environment faults leave `take`
                    log.warning("environment fault persists; messages still held: %s", exc, extra={"held": len(self)})
                    break
                self.messages.pop(0)
            delay = min(delay * 2, self.max_s)
            self.changed()
        log.info("environment fault cleared; held messages taken")
