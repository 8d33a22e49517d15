"""Test doubles shared across test packages."""

from __future__ import annotations

import asyncio


class FakeWall:
    """A monotonic wall clock that only moves when a test moves it or a (fake) sleep is awaited.

    Pass the instance as ``time_fn`` and its :meth:`sleep` as ``sleep`` to a PacedClock-driven
    source: nothing in a test then waits on real time. ``sleeps`` records every requested sleep."""

    def __init__(self, start: float = 1000.0) -> None:
        self.t = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds
        await asyncio.sleep(0)
