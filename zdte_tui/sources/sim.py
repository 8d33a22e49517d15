"""The embedded default source: a seeded 0DTE market simulator played on a :class:`PacedClock`.

``SimSource(["SPY"], seed=7, at="10:30")`` generates each symbol's whole session with
:func:`simulate_session` (see :mod:`zdte_tui.sources.sim_model` and ``docs/simulator.md``),
then yields, per the :mod:`zdte_tui.market.events` contract:

1. one :class:`ChainDefinition` per symbol;
2. the history from the open up to ``at`` at once, in slices aligned to 30 s boundaries
   (the first slice, ``(open - 30 s, open]``, carries the opening spot print);
3. the rest of the session on the clock: small slices every ``batch_seconds`` of wall time
   at ``speed`` session seconds per wall second, until the close.

Symbols interleave by time: each slice yields one :class:`EventBatch` per symbol, in the order
given. The clock's controls work while playing: ``pause``/``resume``/``set_speed``, ``step``
(delivered at once), ``seek`` forward (skipped events delivered at once, in 30 s slices) and
backward (a :class:`SessionReset`, the chain definitions again, then the history up to the
new time). With ``linger=True`` the source stays open at the close so a later backward seek
still works (interactive use); by default it ends at the close.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator

from zdte_tui.market.calendar import default_session_date, et_clock_to_ns, session_bounds_ns
from zdte_tui.market.events import NS_PER_SECOND, ChainDefinition, Event, EventBatch, SessionReset
from zdte_tui.sources.base import EventSource
from zdte_tui.sources.clock import PacedClock, SleepFn
from zdte_tui.sources.sim_model import (
    SCENARIOS,
    SimulatedSession,
    SessionTruth,
    resolve_scenario,
    simulate_session,
)

__all__ = ["SCENARIOS", "SessionTruth", "SimSource", "SimulatedSession", "simulate_session"]

HISTORY_CHUNK_NS = 30 * 60 * NS_PER_SECOND  # history is delivered in chunks this long
HISTORY_SLICE_NS = 30 * NS_PER_SECOND
"""History (and anything delivered at once) comes in slices aligned to 30 s ET boundaries."""


class SimSource(EventSource):
    """Simulated 0DTE sessions for ``symbols`` on one ``session_date`` (default: today if a
    trading day, else the last one), played from ``at`` (``"HH:MM"`` ET, int ns UTC, or None
    for the open) at ``speed`` session seconds per wall second (None/0: as fast as possible).
    """

    name = "sim"
    simulated = True

    def __init__(self, symbols: str | Iterable[str], session_date: dt.date | None = None, seed: int = 7,
                 scenario: str = "auto", at: str | int | None = "10:30", speed: float | None = 1.0,
                 batch_seconds: float = 0.25, *, linger: bool = False,
                 time_fn: Callable[[], float] = time.monotonic, sleep: SleepFn = asyncio.sleep,
                 now: dt.datetime | None = None) -> None:
        names = [symbols] if isinstance(symbols, str) else list(symbols)
        self.symbols = tuple(dict.fromkeys(s.strip().upper() for s in names if s.strip()))
        if not self.symbols:
            raise ValueError("SimSource needs at least one symbol")
        if session_date is None:
            session_date = default_session_date(now or dt.datetime.now(dt.timezone.utc))
        self.session_date = session_date
        self.open_ns, self.close_ns = session_bounds_ns(session_date)  # ValueError if not a trading day
        self.seed = int(seed)
        self.scenario = resolve_scenario(self.seed, scenario)
        if at is None:
            start_ns = self.open_ns
        elif isinstance(at, str):
            start_ns = et_clock_to_ns(session_date, at)
        else:
            start_ns = int(at)
        self.start_ns = max(self.open_ns, min(self.close_ns, start_ns))
        self.batch_seconds = float(batch_seconds)
        self.linger = linger
        self.clock = PacedClock(self.start_ns, self.close_ns, speed, time_fn=time_fn, sleep=sleep,
                                min_ns=self.open_ns, fast_step_ns=HISTORY_SLICE_NS)
        self._sessions: dict[str, SimulatedSession] = {}
        self._closed = False

    @property
    def label(self) -> str:
        return f"SIMULATED seed {self.seed} · {self.scenario}"

    def session(self, symbol: str) -> SimulatedSession:
        """The generated session of ``symbol`` (generated on first use, then cached)."""
        sym = symbol.strip().upper()
        if sym not in self._sessions:
            self._sessions[sym] = simulate_session(sym, self.session_date, self.seed, self.scenario)
        return self._sessions[sym]

    async def aclose(self) -> None:
        self._closed = True
        self.clock.close()

    # ------------------------------------------------------------------ slicing

    def _batches(self, start_ns: int, end_ns: int) -> Iterator[EventBatch]:
        for sym in self.symbols:
            yield self._sessions[sym].batch(start_ns, end_ns)

    def _aligned_slices(self, start_ns: int, end_ns: int) -> Iterator[tuple[int, int]]:
        """``(lo, hi]`` windows covering ``(start_ns, end_ns]``, cut at multiples of
        ``HISTORY_CHUNK_NS`` (30 min, itself a multiple of the 30 s sample step): big batches let the
        engine compute many samples in one vectorized pass."""
        lo = start_ns
        while lo < end_ns:
            hi = min(end_ns, (lo // HISTORY_CHUNK_NS + 1) * HISTORY_CHUNK_NS)
            yield lo, hi
            lo = hi

    def _chains(self) -> list[ChainDefinition]:
        return [self._sessions[sym].chain for sym in self.symbols]

    async def _history(self, start_ns: int, end_ns: int) -> AsyncIterator[Event]:
        for lo, hi in self._aligned_slices(start_ns, end_ns):
            for batch in self._batches(lo, hi):
                yield batch
            await asyncio.sleep(0)  # keep the event loop responsive while catching up

    # ------------------------------------------------------------------ stream

    async def events(self) -> AsyncIterator[Event]:
        """Chain definitions, the history up to ``at`` at once, then the session on the clock."""
        origin_ns = self.open_ns - HISTORY_SLICE_NS  # first slice (open - 30 s, open]: the opening print
        delivered = self.clock.now_ns
        # Symbol by symbol: the first (the one on screen) is generated and its history delivered before
        # the others are generated, so a monitor shows its symbol as early as possible.
        for sym in self.symbols:
            if sym not in self._sessions:
                self._sessions[sym] = await asyncio.to_thread(
                    simulate_session, sym, self.session_date, self.seed, self.scenario)
            yield self._sessions[sym].chain
            for lo, hi in self._aligned_slices(origin_ns, delivered):
                yield self._sessions[sym].batch(lo, hi)
                await asyncio.sleep(0)
        while not self._closed:
            if delivered >= self.close_ns and not self.linger:
                return
            target = await self.clock.advance(delivered, self.batch_seconds)
            if self._closed:
                return
            if target < delivered:
                yield SessionReset(ts_ns=target)
                for chain in self._chains():
                    yield chain
                async for event in self._history(origin_ns, target):
                    yield event
            elif target - delivered > HISTORY_SLICE_NS:
                async for event in self._history(delivered, target):
                    yield event
            else:
                for batch in self._batches(delivered, target):
                    yield batch
            delivered = target
