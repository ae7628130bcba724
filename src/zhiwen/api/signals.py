"""Wake the event streams waiting on a conversation (or a workspace's queue) when something changes.

The desk calls :meth:`Signals.notify` from whichever thread wrote the message; waiting streams run on the
event loop. A wake-up only says "read the store again": the message itself is always read back from the
store, so a stream that missed a signal (another process wrote, the signal raced) catches up at its next
read, at the latest after the stream's recheck interval.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import Iterator


class Signals:
    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = defaultdict(set)
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def notify(self, workspace_id: str, conversation_id: str) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(self._wake, (conversation_id, f"workspace:{workspace_id}"))

    def _wake(self, topics: tuple[str, ...]) -> None:
        for topic in topics:
            for event in self._waiters.get(topic, ()):
                event.set()

    @contextlib.contextmanager
    def subscription(self, topic: str) -> Iterator[asyncio.Event]:
        """An event set whenever ``topic`` is notified. Clear it *before* reading the store, then wait
        on it: a change made while the store was being read still wakes the next wait."""
        event = asyncio.Event()
        self._waiters[topic].add(event)
        try:
            yield event
        finally:
            self._waiters[topic].discard(event)
            if not self._waiters[topic]:
                del self._waiters[topic]


async def woken(event: asyncio.Event, timeout: float) -> None:
    """Until ``event`` is set or ``timeout`` passes."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(event.wait(), timeout)
