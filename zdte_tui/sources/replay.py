"""Replay a recorded session as an :class:`EventSource` on a session clock.

``ReplaySource(path, at="11:00", speed=60)`` opens the recording, delivers the definitions and
all history up to ``at`` at once, then plays on: every wake-up (``tick_seconds`` of wall
time) it delivers the events up to the clock's session time, in batches that never cross a
30 s ET boundary (the engine samples bars at :00/:30). ``speed=None`` (or 0) plays as fast
as possible (in 30-minute windows, so controls act in between). The clock (``source.clock``,
a :class:`~zdte_tui.sources.clock.PacedClock`) pauses, resumes, steps and seeks; a backward
seek emits :class:`SessionReset`, then the definitions and the history up to the target at
once, or, when the consumer offers a checkpoint (``resume_points``), only the events after it.

:func:`iter_all` is the synchronous fast path (no clock) for ``zdte replay --headless`` and
the replay benchmark.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from pathlib import Path

from zdte_tui.market.events import NS_PER_SECOND, Event, SessionReset
from zdte_tui.sources.base import EventSource
from zdte_tui.sources.clock import PacedClock, SleepFn
from zdte_tui.store.format import RecordingError
from zdte_tui.store.reader import DEFAULT_SLICE_SECONDS, Recording

DEFAULT_TICK_SECONDS = 0.25
FAST_WINDOW_SLICES = 60  # as-fast-as-possible mode: 30 minutes per window between control checks
_SLICE_NS = DEFAULT_SLICE_SECONDS * NS_PER_SECOND
# Batches are cut at multiples of this (a multiple of the engine's 30 s sample step): history, seeks
# and fast play arrive in big batches that the engine samples in one vectorized pass.
CHUNK_SECONDS = 30 * 60


def resolve_at(at: str | int | None, session_date: dt.date | None, default_ns: int) -> int:
    """``"HH:MM"`` (ET on the session date), int ns UTC, or None (-> ``default_ns``)."""
    if at is None:
        return default_ns
    if isinstance(at, int):
        return at
    if session_date is None:
        raise ValueError(f"cannot place {at!r}: the recording has no session date")
    from zdte_tui.market.calendar import et_clock_to_ns

    return et_clock_to_ns(session_date, at)


class ReplaySource(EventSource):
    """Plays a recording (Parquet or an unfinished IPC stream) on a :class:`ReplayClock`.

    ``hold_at_end=True`` keeps the source alive (paused) at the end of the recording so a
    backward seek can still replay; by default it finishes after the last event. ``seekable=False``
    promises that nobody seeks it (headless play to the end): the consumer keeps no seek checkpoints.
    """

    name = "replay"

    def __init__(self, path: str | Path, *, at: str | int | None = None, speed: float | None = 1.0,
                 symbols: Iterable[str] | None = None, hold_at_end: bool = False,
                 tick_seconds: float = DEFAULT_TICK_SECONDS, time_fn: Callable[[], float] = time.monotonic,
                 sleep: SleepFn | None = None,
                 recording: Recording | None = None, seekable: bool = True) -> None:
        self.path = Path(path)
        self.recording = recording or Recording.open(self.path)
        meta = self.recording.metadata
        available = self.recording.symbols
        wanted = tuple(symbols) if symbols is not None else available
        missing = [s for s in wanted if s not in available]
        if missing:
            raise RecordingError(self.path, f"no underlying {', '.join(missing)} in this recording "
                                            f"(recorded: {', '.join(available) or 'none'})")
        self.symbols = wanted
        self.simulated = meta.simulated
        self.seekable = seekable  # False: played once to the end, no consumer keeps seek checkpoints
        time_range = self.recording.time_range
        if time_range is None:
            raise RecordingError(self.path, "holds no events to replay")
        self.start_ns, self.end_ns = time_range
        if meta.session_date is not None:
            self.session_date = meta.session_date
        else:
            from zdte_tui.market.calendar import ns_to_et

            self.session_date = ns_to_et(self.start_ns).date()
        self.at_ns = min(max(resolve_at(at, self.session_date, self.start_ns), self.start_ns), self.end_ns)
        self.hold_at_end = hold_at_end
        self.tick_seconds = tick_seconds
        clock_kwargs = {"sleep": sleep} if sleep is not None else {}
        self.clock = PacedClock(self.at_ns, self.end_ns, speed, time_fn=time_fn, min_ns=self.start_ns,
                                fast_step_ns=FAST_WINDOW_SLICES * _SLICE_NS, **clock_kwargs)

    @property
    def label(self) -> str:
        return f"REPLAY {self.path.name} {self.session_date.isoformat()}"

    @property
    def warnings(self) -> list[str]:
        return self.recording.warnings

    def _window(self, after_ns: int | None, upto_ns: int, *, in_force: bool = False) -> Iterator[Event]:
        return self.recording.events(after_ns, upto_ns, CHUNK_SECONDS, symbols=self.symbols,
                                     definitions_in_force=in_force)

    async def events(self) -> AsyncIterator[Event]:
        clock = self.clock
        delivered_ns = self.at_ns
        start = self.resume_point(delivered_ns)  # a consumer's engine state at or before `at` (the day cache)
        if start is not None:  # resume from it: a SessionReset naming it, then only the events after it
            yield SessionReset(ts_ns=delivered_ns, resume_ns=start)
        for e in self._window(start, delivered_ns):  # definitions + history up to `at`, at once
            yield e
        while not clock.closed:
            if delivered_ns >= self.end_ns and not self.hold_at_end:
                return
            target = await clock.advance(delivered_ns, self.tick_seconds)
            if clock.closed:
                return
            if target < delivered_ns:  # backward seek: from the consumer's checkpoint, else start over
                resume = self.resume_point(target)
                yield SessionReset(ts_ns=target, resume_ns=resume)
                for e in self._window(resume, target) if resume is not None else self._window(None, target):
                    yield e
            else:
                for e in self._window(delivered_ns, target):
                    yield e
            delivered_ns = target

    async def aclose(self) -> None:
        self.clock.close()


def iter_all(path: str | Path, *, symbols: Iterable[str] | None = None,
             slice_seconds: float | None = CHUNK_SECONDS) -> Iterator[Event]:
    """Every event of a recording in time order, no clock: definitions, 30 s batches, statuses."""
    return Recording.open(path).events(slice_seconds=slice_seconds, symbols=symbols)
