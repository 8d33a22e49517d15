"""Record any :class:`EventSource` to a recording file (``zdte record``).

The file is an Arrow IPC stream flushed every ``flush_seconds`` while recording (a flush task
runs even when the source is quiet) and is finalized to Parquet when the source ends, the
duration elapses, the task is cancelled, or SIGTERM/SIGINT arrives.

A recording of a real (not simulated) source also notes the last spot of each symbol in the
state file of :mod:`zdte_tui.sources.levels`, so the simulator's next day is drawn around it.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from zdte_tui.market.events import EventBatch
from zdte_tui.sources.base import EventSource
from zdte_tui.sources.levels import note_last_levels
from zdte_tui.store.writer import RecordingWriter


@dataclass(frozen=True)
class RecordSummary:
    """What a recording session wrote. ``stopped_by``: exhausted, duration, signal, cancelled, error."""

    path: Path
    events: int
    batches: int
    rows: int
    first_ns: int | None
    last_ns: int | None
    stopped_by: str
    finalized: bool

    def __str__(self) -> str:
        """A short human summary (what ``zdte record`` prints)."""
        span = "no events with a time"
        if self.first_ns is not None and self.last_ns is not None:
            from zdte_tui.market.calendar import ns_to_et

            a, b = ns_to_et(self.first_ns), ns_to_et(self.last_ns)
            span = (f"{a:%Y-%m-%d %H:%M:%S}-{b:%H:%M:%S} ET" if a.date() == b.date()
                    else f"{a:%Y-%m-%d %H:%M:%S} ET - {b:%Y-%m-%d %H:%M:%S} ET")
        stopped = {"exhausted": "the source ended", "duration": "the duration elapsed", "signal": "a signal",
                   "cancelled": "cancelled", "error": "an error"}.get(self.stopped_by, self.stopped_by)
        return (f"wrote {self.path}{'' if self.finalized else ' (not finalized)'}: {self.events:,} events "
                f"({self.batches:,} batches, {self.rows:,} rows), {span}; stopped by {stopped}")


async def record(source: EventSource, path: str | Path, *, duration_s: float | None = None,
                 flush_seconds: float = 1.0, notes: Iterable[str] | None = None,
                 handle_signals: bool = True, overwrite: bool = False,
                 levels_path: Path | None = None) -> RecordSummary:
    """Consume ``source`` into ``path`` until it ends, ``duration_s`` wall seconds pass, the task
    is cancelled or SIGTERM/SIGINT arrives; always finalizes what was written.

    ``path`` must not exist unless ``overwrite``; the writer holds an exclusive lock on it until
    the Parquet file is in place, so a second recorder on the same path is refused
    (:class:`~zdte_tui.store.format.RecordingError`) instead of interleaving its rows.

    When the source is not simulated, the last spot of each symbol is merged into the last-levels
    state file (``levels_path``, default ``$XDG_STATE_HOME/zdte/last_levels.json``)."""
    all_notes = [f"recorded from {source.label}"] + list(notes or ())
    writer = RecordingWriter(path, source=source.name, simulated=source.simulated,
                             session_date=getattr(source, "session_date", None), symbols=source.symbols,
                             flush_seconds=flush_seconds, notes=all_notes, overwrite=overwrite)
    counts = {"events": 0, "batches": 0}
    span: list[int] = []
    last_spot: dict[str, tuple[float, int]] = {}

    async def consume() -> None:
        async for event in source:
            writer.write(event)
            counts["events"] += 1
            if isinstance(event, EventBatch):
                counts["batches"] += 1
                if not span:
                    span.append(event.start_ns)
                span[1:] = [event.end_ns]
                if len(event.spot.ts_ns):
                    last_spot[event.underlying] = (float(event.spot.price[-1]), int(event.spot.ts_ns[-1]))

    async def flush_periodically() -> None:
        while True:
            await asyncio.sleep(flush_seconds)
            writer.flush()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    installed: list[int] = []
    if handle_signals and threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, stop.set)
                installed.append(sig)

    consumer = asyncio.create_task(consume())
    flusher = asyncio.create_task(flush_periodically())
    stopper = asyncio.create_task(stop.wait())
    stopped_by = "error"
    try:
        done, _ = await asyncio.wait({consumer, stopper}, timeout=duration_s,
                                     return_when=asyncio.FIRST_COMPLETED)
        if consumer in done:
            consumer.result()  # re-raise a source error (after finalizing, below)
            stopped_by = "exhausted"
        elif stopper in done:
            stopped_by = "signal"
        else:
            stopped_by = "duration"
    except asyncio.CancelledError:
        stopped_by = "cancelled"
        raise
    finally:
        for task in (consumer, flusher, stopper):
            task.cancel()
        await asyncio.gather(consumer, flusher, stopper, return_exceptions=True)
        for sig in installed:
            loop.remove_signal_handler(sig)
        with contextlib.suppress(Exception):
            await source.aclose()
        writer.close(finalize=True)
        if last_spot and not source.simulated:
            with contextlib.suppress(OSError):  # the state file is a convenience: never fail a recording
                note_last_levels(last_spot, source.name, levels_path)
    return RecordSummary(path=writer.path, events=counts["events"], batches=counts["batches"],
                         rows=writer.rows_written, first_ns=span[0] if span else None,
                         last_ns=span[-1] if span else None, stopped_by=stopped_by, finalized=True)
