"""The one interface every event source implements (sim, replay, live adapters).

A source is an async iterator of :mod:`zdte_tui.market.events` events. Required hooks:

- ``name`` (str): short id shown in the header (``sim``, ``replay``, ``massive``...).
- ``simulated`` (bool): True only for generated data; the TUI shows a SIMULATED badge.
- ``symbols`` (tuple[str, ...]): underlyings this source delivers.
- ``session_date`` (datetime.date): the ET session the events belong to.
- ``events()``: async generator yielding ChainDefinition / EventBatch / FeedStatus /
  SessionReset in time order.

Optional hooks (default implementations below do nothing or raise ``NotImplementedError``):

- ``clock``: a :class:`PlaybackClock` for sources that play a session on a clock
  (sim, replay): pause / resume / step / seek / speed. Live sources have ``clock = None``.
- ``aclose()``: release sockets, files, tasks.
- ``label``: longer human text for the header (e.g. ``SIMULATED seed 7 (pin)``).
- ``resume_points``: set by a consumer that keeps engine checkpoints (the service's pump), read
  by sources that can seek backwards (sim, replay). On a backward seek to ``T`` the source calls
  ``resume_points(T)``; a returned ``C <= T`` means: yield ``SessionReset(T, resume_ns=C)`` and
  then only the events in ``(C, T]``, instead of the definitions and the whole day up to ``T``.
  Sim and replay also ask it once for their start time, before the initial history: a consumer
  that offered a state (the day cache, through ``Checkpoints.offer``) gets only what follows it.
- ``seekable`` (bool, default True): False tells a consumer that nobody will seek this source
  backwards (``zdte replay --headless`` plays once to the end), so it keeps no seek checkpoints
  (the pump's engine copies: ~13 MB each on a real-scale SPX day).
"""

from __future__ import annotations

import abc
import datetime as dt
from collections.abc import AsyncIterator, Callable

from zdte_tui.market.events import Event


class EventSource(abc.ABC):
    name: str = "source"
    simulated: bool = False
    symbols: tuple[str, ...] = ()
    session_date: dt.date
    clock: PlaybackClock | None = None
    resume_points: Callable[[int], int | None] | None = None
    seekable: bool = True

    def resume_point(self, target_ns: int) -> int | None:
        """The consumer's checkpoint to resume a backward seek to ``target_ns`` from, or None."""
        hook = self.resume_points
        if hook is None:
            return None
        resume = hook(int(target_ns))
        return None if resume is None or resume > target_ns else int(resume)

    @property
    def label(self) -> str:
        return self.name

    @abc.abstractmethod
    def events(self) -> AsyncIterator[Event]:
        """Yield events in time order until the source is exhausted or closed."""

    def __aiter__(self) -> AsyncIterator[Event]:
        return self.events()

    async def aclose(self) -> None:  # optional hook
        return None


class PlaybackClock(abc.ABC):
    """Controls of a source that plays a session on a clock (sim, replay).

    Session time is int64 ns UTC. ``speed`` is session seconds per wall second;
    ``speed = 0`` or ``None`` means as fast as possible.
    """

    @property
    @abc.abstractmethod
    def now_ns(self) -> int: ...

    @property
    @abc.abstractmethod
    def paused(self) -> bool: ...

    @property
    @abc.abstractmethod
    def speed(self) -> float | None: ...

    @abc.abstractmethod
    def pause(self) -> None: ...

    @abc.abstractmethod
    def resume(self) -> None: ...

    @abc.abstractmethod
    def set_speed(self, speed: float | None) -> None: ...

    @abc.abstractmethod
    def step(self, seconds: float) -> None:
        """While paused, advance session time by ``seconds`` (delivered at once)."""

    @abc.abstractmethod
    def seek(self, ts_ns: int) -> None:
        """Jump to ``ts_ns``: forward delivers the skipped events at once; backward emits a
        SessionReset and replays from the start up to ``ts_ns`` at once."""
