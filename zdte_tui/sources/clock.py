"""A paced session clock for sources that play a recorded or generated session (sim, replay).

:class:`PacedClock` maps wall time to session time::

    now_ns = anchor_session_ns + (time_fn() - anchor_wall_s) * speed * 1e9

clamped to ``[min_ns, end_ns]``. Every control (``pause``, ``resume``, ``set_speed``,
``step``, ``seek``) re-anchors the mapping and wakes the source waiting on the clock.
``speed`` is session seconds per wall second; ``None`` (or 0) means as fast as possible:
session time then moves only when the source asks for the next slice.

The source side is two coroutines:

- ``await clock.advance(after_ns, max_wall_seconds)`` -> ``int``: the session time to
  deliver up to next. Returns a value ``> after_ns`` to deliver ``(after_ns, value]``
  (at most ``max_wall_seconds`` of wall time after the clock passed ``after_ns`` while
  playing; at once after ``step`` or a forward ``seek``; one ``fast_step_ns`` slice, aligned,
  in fast mode), or a value ``< after_ns`` after a backward ``seek`` (the source then emits
  a ``SessionReset`` and replays from the start). While paused, or at ``end_ns``, it waits
  for a control call.
- ``await clock.wait_until(ts_ns)`` -> ``int``: returns ``now_ns`` once it reaches ``ts_ns``,
  or earlier when a control call changes the clock (the caller re-checks).
- ``clock.close()``: both return ``now_ns`` at once from then on (the source is shutting down).

Tests inject ``time_fn`` (a fake monotonic clock) and ``sleep`` (a coroutine that advances
it) so nothing really sleeps. Controls are thread-safe: they may be called from another
thread than the one running the source's event loop.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Awaitable, Callable

from zdte_tui.market.events import NS_PER_SECOND
from zdte_tui.sources.base import PlaybackClock

SleepFn = Callable[[float], Awaitable[object]]

MAX_SPEED = 100_000.0
"""Fastest paced speed (session seconds per wall second): a 6.5 h session in 0.23 s. Faster is
what ``0``/``None`` (as fast as possible) is for; anything above is refused with ``ValueError``."""
MAX_STEP_SECONDS = 86_400.0
"""Largest ``step`` either way (one day; the clock clamps to the session anyway)."""


class PacedClock(PlaybackClock):
    """Session clock at ``speed`` session-seconds per wall-second, starting at ``start_ns``.

    ``end_ns`` is the last session instant (the close); ``min_ns`` (default ``start_ns``) is the
    earliest instant ``seek`` may reach (the open). ``fast_step_ns`` is the slice size in fast mode.
    """

    def __init__(self, start_ns: int, end_ns: int, speed: float | None = 1.0, *,
                 time_fn: Callable[[], float] = time.monotonic, sleep: SleepFn = asyncio.sleep,
                 min_ns: int | None = None, fast_step_ns: int = 30 * NS_PER_SECOND) -> None:
        self.min_ns = int(start_ns if min_ns is None else min_ns)
        self.end_ns = int(end_ns)
        if self.end_ns < self.min_ns:
            raise ValueError("PacedClock: end_ns must not precede min_ns")
        self._time_fn = time_fn
        self._sleep = sleep
        self.fast_step_ns = int(fast_step_ns)
        self._lock = threading.RLock()
        self._anchor_ns = self._clamp(int(start_ns))
        self._anchor_wall = time_fn()
        self._speed = self._check_speed(speed)
        self._paused = False
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None

    # ------------------------------------------------------------------ state

    @staticmethod
    def _check_speed(speed: float | None) -> float | None:
        if speed is None or speed == 0:
            return None
        speed = float(speed)
        if not (math.isfinite(speed) and 0 < speed <= MAX_SPEED):
            raise ValueError(f"speed {speed!r}: expected a number in (0, {MAX_SPEED:g}], "
                             f"or 0 for as fast as possible")
        return speed

    def _clamp(self, ts_ns: int) -> int:
        return max(self.min_ns, min(self.end_ns, int(ts_ns)))

    def _now_locked(self) -> int:
        if self._paused or self._speed is None:
            return self._anchor_ns
        elapsed_s = self._time_fn() - self._anchor_wall
        return self._clamp(self._anchor_ns + int(elapsed_s * self._speed * NS_PER_SECOND))

    def _reanchor(self, ts_ns: int) -> None:
        self._anchor_ns = self._clamp(ts_ns)
        self._anchor_wall = self._time_fn()

    @property
    def now_ns(self) -> int:
        with self._lock:
            return self._now_locked()

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def speed(self) -> float | None:
        return self._speed

    @property
    def at_end(self) -> bool:
        return self.now_ns >= self.end_ns

    # ------------------------------------------------------------------ controls

    def pause(self) -> None:
        with self._lock:
            self._reanchor(self._now_locked())
            self._paused = True
        self._notify()

    def resume(self) -> None:
        with self._lock:
            self._reanchor(self._now_locked())
            self._paused = False
        self._notify()

    def toggle(self) -> None:
        """Pause if playing, resume if paused."""
        (self.resume if self._paused else self.pause)()

    def set_speed(self, speed: float | None) -> None:
        checked = self._check_speed(speed)
        with self._lock:
            self._reanchor(self._now_locked())
            self._speed = checked
        self._notify()

    def step(self, seconds: float) -> None:
        """Advance session time by ``seconds`` (paused or not); the source delivers it at once.

        ``seconds`` must be finite and at most :data:`MAX_STEP_SECONDS` either way (``ValueError``)."""
        seconds = float(seconds)
        if not (math.isfinite(seconds) and abs(seconds) <= MAX_STEP_SECONDS):
            raise ValueError(f"step {seconds!r}: expected a number of seconds within +/-{MAX_STEP_SECONDS:g}")
        with self._lock:
            self._reanchor(self._now_locked() + int(float(seconds) * NS_PER_SECOND))
        self._notify()

    def seek(self, ts_ns: int) -> None:
        """Jump to ``ts_ns`` (clamped to ``[min_ns, end_ns]``); keeps the paused state."""
        with self._lock:
            self._reanchor(int(ts_ns))
        self._notify()

    def close(self) -> None:
        """Release waiters for good: ``advance``/``wait_until`` return ``now_ns`` at once from now on."""
        self._closed = True
        self._notify()

    @property
    def closed(self) -> bool:
        return self._closed

    # ------------------------------------------------------------------ source side

    def _bind(self) -> asyncio.Event:
        loop = asyncio.get_running_loop()
        if self._event is None or self._loop is not loop:
            self._loop = loop
            self._event = asyncio.Event()
        return self._event

    def _notify(self) -> None:
        loop, event = self._loop, self._event
        if loop is None or event is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            event.set()
        else:
            loop.call_soon_threadsafe(event.set)

    async def _sleep_or_change(self, event: asyncio.Event, seconds: float | None) -> bool:
        """Wait ``seconds`` of (injected) wall time, or forever if None; True if a control fired."""
        if event.is_set():
            return True
        waiter = asyncio.ensure_future(event.wait())
        tasks = {waiter}
        if seconds is not None:
            tasks.add(asyncio.ensure_future(self._sleep(max(seconds, 0.0))))
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in tasks:
                if not task.done():
                    task.cancel()
        return event.is_set()

    async def advance(self, after_ns: int, max_wall_seconds: float = 0.25) -> int:
        """The next session time to deliver up to (see the module docstring); ``after_ns`` only once closed."""
        event = self._bind()
        after_ns = int(after_ns)
        while True:
            event.clear()
            with self._lock:
                now = self._now_locked()
                paused, speed = self._paused, self._speed
                if now < after_ns or self._closed:
                    return now
                if speed is None and not paused and after_ns < self.end_ns:
                    step = self.fast_step_ns
                    target = min(self.end_ns, (after_ns // step + 1) * step)
                    self._reanchor(max(target, now))
                    fast_target = self._anchor_ns
                else:
                    fast_target = None
            if fast_target is not None:
                await asyncio.sleep(0)  # let the consumer and controls run between slices
                return fast_target
            if paused or speed is None or now >= self.end_ns:
                if now > after_ns:
                    return now
                await self._sleep_or_change(event, None)
                continue
            due_ns = after_ns + int(max_wall_seconds * speed * NS_PER_SECOND)
            if now >= due_ns or now >= self.end_ns:
                return now
            await self._sleep_or_change(event, (min(due_ns, self.end_ns) - now) / (speed * NS_PER_SECOND))
            with self._lock:
                now = self._now_locked()
            if now != after_ns and (now < after_ns or event.is_set() or now >= due_ns):
                return now

    async def wait_until(self, ts_ns: int) -> int:
        """Return ``now_ns`` once it reaches ``ts_ns``, or earlier if a control call changed the clock."""
        event = self._bind()
        event.clear()
        while True:
            with self._lock:
                now = self._now_locked()
                if now >= ts_ns or self._closed:
                    return now
                if self._speed is None and not self._paused:
                    self._reanchor(int(ts_ns))  # as fast as possible: jump
                    return self._anchor_ns
                paused, speed = self._paused, self._speed
            wait_s = None if paused or speed is None else (int(ts_ns) - now) / (speed * NS_PER_SECOND)
            if await self._sleep_or_change(event, wait_s):
                return self.now_ns

    def __repr__(self) -> str:  # pragma: no cover - debugging aid
        state = "paused" if self._paused else "playing"
        return f"PacedClock(now_ns={self.now_ns}, {state}, speed={self._speed})"
