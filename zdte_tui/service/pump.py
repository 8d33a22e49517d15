"""The source pump: feeds a source's events into a :class:`~zdte_tui.engine.flow_engine.FlowEngine`.

:class:`SourcePump` owns the engine, the lock that guards it, and the background thread that runs
the source's async iterator; it tracks readiness (history up to the start time ingested) and keeps
source failures for ``status()``. :class:`~zdte_tui.service.queries.FlowService` builds on it.

Seek checkpoints: while a seekable source (sim, replay) plays, the pump keeps a copy of the engine
every :data:`CHECKPOINT_MINUTES` of session time (:class:`Checkpoints`), and offers them to the
source (``source.resume_points``). A backward seek then restores the newest checkpoint at or before
the target and re-ingests only what follows it (at most ``CHECKPOINT_MINUTES`` of the session once
the play has passed the target), instead of the whole day from the open. A checkpoint at ``C`` holds
every event stamped at or before ``C`` (statuses, definitions and vol contexts stamped exactly at
``C`` come after the batches ending there), since a resume replays only ``(C, T]``. A source that
says it will not be seeked (``seekable = False``: ``zdte replay --headless``) gets no checkpoints.
"""

from __future__ import annotations

import asyncio
import bisect
import concurrent.futures
import copy
import logging
import threading
import time
from typing import Any, Self

from zdte_tui.engine.flow_engine import FlowEngine
from zdte_tui.errors import raised_at
from zdte_tui.market.events import NS_PER_SECOND, EventBatch, FeedStatus, SessionReset, VolContext

log = logging.getLogger(__name__)

CHECKPOINT_MINUTES = 60
"""Session minutes between two seek checkpoints: a backward seek re-ingests at most this much of
the session (once the play has passed the target). Each checkpoint holds ~2 MB per symbol (the
engine without its trade log, which is shared and frozen at the checkpoint), at most 7 a day: ~14 MB a symbol
(benchmarks/bench_seek.py)."""


IDLE_TICKS = 3
"""Turns of the pump's event loop with no event applied after which :meth:`SourcePump.wait_idle`
calls the pump idle."""


async def _turns(n: int) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


def _copy_sharing_logs(engine: FlowEngine) -> FlowEngine:
    """A deep copy of ``engine`` whose books share the original trade logs (append-only) and the
    frozen engine parameters."""
    memo: dict[int, Any] = {id(engine.params): engine.params}
    for book in engine.books.values():
        memo[id(book.log)] = book.log
        memo[id(book.params)] = book.params
    return copy.deepcopy(engine, memo)


def _freeze_logs(engine: FlowEngine) -> dict[str, int]:
    """Compact and freeze each book's trade log (``TradeLog.freeze``: no later compaction moves its
    rows) and return their lengths: a checkpoint shares the logs and truncates them back to these."""
    lengths = {}
    for sym, book in engine.books.items():
        book.compact_log(force=True)
        lengths[sym] = book.log.freeze()
    return lengths


class Checkpoints:
    """Engine copies at session times, for backward seeks.

    A checkpoint is due when every symbol of the source has a book and all books stand at the
    same session time ``t`` (the sources deliver all symbols slice by slice), at the first such
    ``t`` at or after each :data:`CHECKPOINT_MINUTES` boundary. It is taken just before the first
    event stamped after ``t`` (:meth:`before`; a batch ending after ``t``, a status or vol context
    stamped after it) or when a source asks for a resume point (:meth:`settle`), not right after
    the batch ending at ``t``: the events stamped exactly at ``t`` come after that batch, and a
    resume from ``t`` replays only ``(t, T]``. A definition (it carries no time) never triggers it:
    one that arrives in between is held by the checkpoint and, when replayed, redefines the book
    with the same contracts (no change). The trade logs are shared with the live engine, each
    checkpoint remembering its logs' lengths and freezing them there (``TradeLog.freeze``: the log's
    compaction never moves a row before a checkpoint's length): restoring truncates them back (the rows
    after are re-ingested), so checkpoints later than a restored one are dropped.
    """

    def __init__(self, interval_ns: int = CHECKPOINT_MINUTES * 60 * NS_PER_SECOND) -> None:
        self.interval_ns = int(interval_ns)
        self.times: list[int] = []
        self._held: dict[int, tuple[FlowEngine, dict[str, int]]] = {}
        self.due: int | None = None  # an aligned time whose copy waits for the first event after it
        self._engine: FlowEngine | None = None

    def clear(self) -> None:
        self.times.clear()
        self._held.clear()
        self.due, self._engine = None, None

    def maybe_take(self, engine: FlowEngine, symbols: tuple[str, ...]) -> None:
        """Mark a checkpoint due if ``engine`` is aligned (see the class) past the next boundary."""
        books = engine.books
        if not books or any(s not in books for s in symbols):
            return
        clocks = {b.clock_ns for b in books.values()}
        if len(clocks) != 1:
            return
        t = clocks.pop()
        last = self.times[-1] if self.times else None
        if t <= 0 or (last is not None and t // self.interval_ns <= last // self.interval_ns):
            return
        self.due, self._engine = t, engine

    def before(self, event: Any) -> None:
        """Called before ``event`` is applied: take the due checkpoint if ``event`` is stamped after it."""
        if self.due is not None and _stamp(event) > self.due:
            self.settle()

    def settle(self) -> None:
        """Take the due checkpoint now (every event stamped at or before its time is in the engine)."""
        t, engine = self.due, self._engine
        self.due, self._engine = None, None
        if t is None or engine is None:
            return
        self._held[t] = (_copy_sharing_logs(engine), _freeze_logs(engine))
        bisect.insort(self.times, t)

    def offer(self, t_ns: int, engine: FlowEngine) -> None:
        """Hold ``engine`` (a state at ``t_ns`` read from elsewhere, e.g. the day cache) as the
        checkpoint at ``t_ns``: a source starting later can resume from it (``resume_points``)."""
        self._held[int(t_ns)] = (engine, _freeze_logs(engine))
        if int(t_ns) not in self.times:
            bisect.insort(self.times, int(t_ns))

    def held(self, t_ns: int) -> tuple[FlowEngine, dict[str, int]] | None:
        """The engine copy at checkpoint ``t_ns`` and its trade logs' lengths (the logs are shared
        with the live engine, which may have appended since), or None."""
        return self._held.get(int(t_ns))

    def at_or_before(self, target_ns: int) -> int | None:
        """The newest checkpoint time <= ``target_ns``."""
        i = bisect.bisect_right(self.times, int(target_ns))
        return self.times[i - 1] if i else None

    def restore(self, t_ns: int) -> FlowEngine | None:
        """A fresh engine at checkpoint ``t_ns`` (its logs truncated back); later ones are dropped."""
        held = self._held.get(int(t_ns))
        if held is None:
            return None
        saved, lengths = held
        engine = _copy_sharing_logs(saved)
        for sym, n in lengths.items():
            engine.books[sym].log.truncate(n)
        for t in [t for t in self.times if t > t_ns]:
            del self._held[t]
        self.times = [t for t in self.times if t <= t_ns]
        self.due, self._engine = None, None
        return engine


def _stamp(event: Any) -> int:
    """The session time an event is stamped at, for :meth:`Checkpoints.before`: a batch's end, a
    status's or vol context's time; anything else (a definition) -1 (never after a checkpoint)."""
    if isinstance(event, EventBatch):
        return int(event.end_ns)
    if isinstance(event, (FeedStatus, VolContext)):
        return int(event.ts_ns)
    return -1


class SourcePump:
    """Engine + lock + pump thread. Subclasses read the engine under ``self._lock``."""

    def __init__(self, source: Any, engine: FlowEngine) -> None:
        self.source = source
        self.engine = engine
        self._lock = threading.RLock()
        self._ready = threading.Event()
        self._first_ready = threading.Event()
        self._done = threading.Event()
        self._proceed = threading.Event()  # cleared by hold_after_first_symbol()
        self._proceed.set()
        self._hold_timeout = 0.0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pump_task: asyncio.Task[None] | None = None
        self._stop = False
        self.events_ingested = 0
        self.source_errors: list[str] = []
        self.pump_errors = 0
        self.internal_errors: dict[str, int] = {}  # "<type> at <file:line>" -> events it hit
        self._ready_at_ns = self._initial_target()
        self.checkpoints = Checkpoints()
        self.seek_restores = 0  # backward seeks served from a checkpoint (status / tests)
        self._checkpointing = (source is not None and getattr(source, "clock", None) is not None
                               and hasattr(source, "resume_points") and getattr(source, "seekable", True))
        if self._checkpointing:
            source.resume_points = self._resume_point  # seekable: offer checkpoints for backward seeks

    def _initial_target(self) -> int | None:
        snapshot_at = getattr(self.source, "ready_at_ns", None)  # a one-shot snapshot: ready once it is in
        if snapshot_at is not None:
            return int(snapshot_at)
        at, first = getattr(self.source, "at_ns", None), getattr(self.source, "start_ns", None)
        if isinstance(at, int) and isinstance(first, int) and at <= first:
            return None  # a replay from its very first instant: no history to wait for
        clock = getattr(self.source, "clock", None)
        if clock is None:
            return None
        try:
            return int(clock.now_ns)
        except Exception:  # noqa: BLE001
            return None

    def _on_applied(self) -> None:
        """Called under the lock after every ingested event (subclasses drop their caches here)."""

    def _internal_error(self, exc: Exception, what: str) -> None:
        key = f"{type(exc).__name__} at {raised_at(exc)}"
        if key not in self.internal_errors:
            log.error("%s (%s); later occurrences are only counted", what, key, exc_info=exc)
        self.internal_errors[key] = self.internal_errors.get(key, 0) + 1

    # --- pumping -----------------------------------------------------------------------------
    def apply(self, event: Any) -> None:
        """Ingest one event. Malformed input is the engine's to count; any exception it raises is a
        bug: logged once with its traceback, counted in ``internal_errors``, and the pump goes on."""
        with self._lock:
            try:
                if isinstance(event, SessionReset):
                    self._reset(event)
                else:
                    self.checkpoints.before(event)
                    self.engine.apply(event)
                    if self._checkpointing and isinstance(event, EventBatch):
                        self.checkpoints.maybe_take(self.engine, self._symbols())
            except Exception as exc:  # noqa: BLE001 - a bug must not stop the feed; it is reported
                self._internal_error(exc, "the engine failed on an event")
            self.events_ingested += 1
            self._on_applied()
        if not self._ready.is_set():
            self._update_readiness()

    def _symbols(self) -> tuple[str, ...]:
        return tuple(getattr(self.source, "symbols", ()) or ())

    def _resume_point(self, target_ns: int) -> int | None:
        """The source's hook (``resume_points``): the checkpoint to resume a backward seek from."""
        with self._lock:
            self.checkpoints.settle()  # the source restarts: everything it delivered so far is in
            return self.checkpoints.at_or_before(target_ns)

    def _reset(self, event: SessionReset) -> None:
        """A backward seek: restore the checkpoint the source resumes from, else start over."""
        restored = self.checkpoints.restore(event.resume_ns) if event.resume_ns is not None else None
        if restored is not None:
            self.engine = restored
            self.seek_restores += 1
            return
        if event.resume_ns is not None:  # cannot happen (the pump offered it); reported, not silent
            raise RuntimeError(f"no engine checkpoint at {event.resume_ns} to resume a seek from")
        self.engine.apply(event)
        self.checkpoints.clear()

    def _update_readiness(self) -> None:
        """Ready = every symbol of the source has its history up to the start time ingested (any
        data at all for a live source); ``_first_ready`` = the first symbol has (what a monitor shows)."""
        target = self._ready_at_ns
        with self._lock:
            clocks = {s: b.clock_ns for s, b in self.engine.books.items()}
        symbols = tuple(getattr(self.source, "symbols", ()) or ()) or tuple(clocks)

        def done(sym: str) -> bool:
            return sym in clocks and (target is None or clocks[sym] >= target)

        if symbols and done(symbols[0]):
            self._first_ready.set()
        if symbols and all(done(s) for s in symbols):
            self._first_ready.set()
            self._ready.set()

    def hold_after_first_symbol(self, timeout: float = 10.0) -> None:
        """Pause the pump once the first symbol's history is in, until :meth:`release_hold` (or
        ``timeout`` seconds): a source that builds symbols on demand (the simulator) then generates
        the others after the first screen is drawn, not while it is being drawn."""
        self._hold_timeout = float(timeout)
        self._proceed.clear()

    def release_hold(self) -> None:
        """Let a pump paused by :meth:`hold_after_first_symbol` go on (idempotent, thread-safe)."""
        self._proceed.set()

    async def pump(self) -> None:
        """Consume the source until it ends or :meth:`stop` is called."""
        self._ready_at_ns = self._initial_target()  # the start time as it stands now (a caller may have seeked)
        try:
            async for ev in self.source:
                if self._stop:
                    break
                try:
                    self.apply(ev)
                except Exception as exc:  # noqa: BLE001 - one bad event must not stop the pump
                    self._report_error(f"engine: {type(exc).__name__}: {exc}")
                if not self._proceed.is_set() and self._first_ready.is_set():
                    await asyncio.to_thread(self._proceed.wait, self._hold_timeout)
                    self._proceed.set()
        except asyncio.CancelledError:
            pass
        except Exception as exc:  # noqa: BLE001 - a source failure shows in the header
            log.error("source %s stopped", getattr(self.source, "name", "?"), exc_info=exc)
            self._report_error(f"{type(exc).__name__}: {exc}")
        finally:
            self._first_ready.set()
            self._ready.set()
            self._done.set()

    def _report_error(self, message: str) -> None:
        """Keep the last 20 pump errors (status() shows them); count them all."""
        with self._lock:
            self.pump_errors += 1
            self.source_errors.append(message[:300])
            del self.source_errors[:-20]

    def run_to_end(self) -> Self:
        """Drain the source synchronously (headless replay, scripts, benchmarks)."""
        asyncio.run(self.pump())
        return self

    def start(self) -> Self:
        """Pump the source on a daemon thread."""
        if self._thread is not None:
            return self

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            try:
                self._pump_task = loop.create_task(self.pump())
                loop.run_until_complete(self._pump_task)
                loop.run_until_complete(self.source.aclose())
            except Exception:  # noqa: BLE001 - closing a source must not crash the app
                pass
            finally:
                loop.close()

        self._thread = threading.Thread(target=run, name="zdte-source", daemon=True)
        self._thread.start()
        return self

    def wait_ready(self, timeout: float | None = 30.0, *, first_symbol_only: bool = False) -> bool:
        """Block until history up to the start time is ingested (or the source ended)."""
        return (self._first_ready if first_symbol_only else self._ready).wait(timeout)

    def wait_idle(self, timeout: float = 30.0, ticks: int = IDLE_TICKS) -> bool:
        """After :meth:`wait_ready`, block until the pump waits on its source with nothing to apply
        (a paused clock): ready is set by the batch reaching the start time, and the statuses,
        definitions and vol contexts stamped exactly at it come after that batch, delivered at once.
        Idle = no event applied while the pump's loop turned ``ticks`` times (the sources deliver what
        is due at once, at most yielding one turn between slices). True when idle or finished."""
        deadline = time.monotonic() + timeout
        while not self._done.is_set() and time.monotonic() < deadline:
            loop = self._loop
            if loop is None:  # the thread has not built its loop yet
                self._done.wait(0.001)
                continue
            seen = self.events_ingested
            try:
                turned = asyncio.run_coroutine_threadsafe(_turns(ticks), loop)
            except RuntimeError:  # the loop is closed: the pump finished
                break
            try:
                turned.result(min(0.1, max(0.0, deadline - time.monotonic())))
            except (concurrent.futures.TimeoutError, concurrent.futures.CancelledError):
                turned.cancel()  # the loop is busy applying events, or it stopped: look again
                continue
            if self.events_ingested == seen:
                return True
        return self._done.is_set()

    def stop(self) -> None:
        """Stop pumping: cancel the pump task on its loop (thread-safe, idempotent) and join the thread."""
        self._stop = True
        self._proceed.set()
        loop, task = self._loop, self._pump_task
        if loop is not None and task is not None:
            try:
                loop.call_soon_threadsafe(task.cancel)
            except RuntimeError:  # the loop already finished and closed
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)


__all__ = ["SourcePump"]
