"""A consumer that stops (TUI quit, a test's timeout, Ctrl-C) closes a live source at once,
whatever the source is doing: connecting, streaming, waiting on the vol-context REST call.

A stub adapter (no sockets) whose connects are held on a gate, whose sockets stream frames
without pause and whose later-expiry request never answers. The close is swept over every
moment of the connect and of the stream (``k`` turns of the event loop after a known point),
so the test hits the same interleavings on every run, whatever the machine's load.

The bug these guard against: Python 3.11's ``asyncio.wait_for`` returns the result and drops
the cancellation when the awaited work finishes in the same turn of the loop as the cancel
(CPython gh-86296). A channel task cancelled just as its socket opened went on reading that
socket for ever, and ``aclose()`` waited for it for ever.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import pytest

from zdte_tui.market.events import ChainDefinition, EventBatch, FeedStatus, VolContext
from zdte_tui.sources.live import base as live_base
from zdte_tui.sources.live.base import LiveSource
from zdte_tui.sources.live.records import ChainSnapshot, ContractSpec, ParsedFrame, TradeTick
from zdte_tui.sources.live.term import TermRow

from .servers import FakeClock, finishes, next_event, no_sleep

SESSION = date(2026, 6, 5)
START_NS = int(datetime(2026, 6, 5, 14, 0, tzinfo=UTC).timestamp() * 1e9)  # 10:00 ET
SWEEP = range(12)  # turns of the loop after the gate: covers the whole connect (about 4 turns)


class _Socket:
    """Streams a trade frame every turn of the loop (``busy``) or stays silent, until closed.
    ``swallow`` > 0: the first that many cancellations are ignored (a misbehaving library)."""

    def __init__(self, busy: bool, swallow: int = 0) -> None:
        self.busy = busy
        self.swallow = swallow
        self.closed = asyncio.Event()

    def __aiter__(self) -> _Socket:
        return self

    async def __anext__(self) -> str:
        while True:
            try:
                if self.busy:
                    await asyncio.sleep(0)
                    if not self.closed.is_set():
                        return "trade"
                await self.closed.wait()
                raise StopAsyncIteration
            except asyncio.CancelledError:
                if self.swallow <= 0:
                    raise
                self.swallow -= 1

    async def close(self) -> None:
        self.closed.set()


class _Stub(LiveSource):
    name = "stub"

    def __init__(self, *, busy: bool = True, swallow: int = 0, term_rows=None, **kw) -> None:
        opts = dict(session_date=SESSION, strike_band_pct=1.0, batch_interval_s=0.005,
                    clock_ns=FakeClock(START_NS), sleep=no_sleep, term_vol_interval_s=3600)
        opts.update(kw)
        super().__init__(["SPY"], **opts)
        self.gate = asyncio.Event()
        self.busy, self.swallow = busy, swallow
        self.sockets: list[_Socket] = []
        self.term_rows = term_rows  # None: the request never answers
        self.term_asked = asyncio.Event()
        self.term_cancelled = False
        self.extra_closed = False

    def _channels(self) -> tuple[str, ...]:
        return ("options", "stocks")

    def _channel_for_spot(self, key: str) -> str:
        return "stocks"

    def _channel_for_option(self, key: str) -> str:
        return "options"

    async def _fetch_chain(self, underlying: str, expiry: date) -> ChainSnapshot:
        return ChainSnapshot(underlying, expiry, (ContractSpec("C590", "SPY   260605C00590000", 590.0, True),),
                             spot=590.0)

    async def _open_channel(self, channel: str) -> _Socket:
        await self.gate.wait()
        ws = _Socket(self.busy, self.swallow)
        self.sockets.append(ws)
        return ws

    async def _send_subscriptions(self, channel, ws, add, remove, full) -> None:
        await asyncio.sleep(0)

    def _parse_frame(self, channel: str, data: str | bytes) -> ParsedFrame:
        return ParsedFrame(ticks=[TradeTick("C590", START_NS + 1, 1.25, 3)])

    async def _fetch_term_rows(self, underlying: str, spot: float) -> list[TermRow]:
        self.term_asked.set()
        if self.term_rows is not None:
            return list(self.term_rows)
        try:
            await asyncio.Event().wait()  # a REST call that never answers
        except asyncio.CancelledError:
            self.term_cancelled = True
            raise
        return []

    async def _close_extra(self) -> None:
        self.extra_closed = True


def _closed_cleanly(src: _Stub) -> None:
    assert all(t.done() for t in src._tasks)
    assert all(ws.closed.is_set() for ws in src.sockets)
    assert src.extra_closed and not src._conns


@pytest.mark.parametrize("turns", SWEEP)
async def test_closing_at_any_moment_of_the_connect_finishes(turns):
    src = _Stub()
    agen = src.events()
    await next_event(agen, lambda e: isinstance(e, ChainDefinition))  # sent before the sockets open
    src.gate.set()  # both connects complete now
    for _ in range(turns):
        await asyncio.sleep(0)
    await finishes(agen.aclose())
    _closed_cleanly(src)


@pytest.mark.parametrize("turns", SWEEP)
async def test_a_consumer_cancelled_mid_stream_finishes(turns):
    """Both channels streaming, the term poller stuck in its request: the consumer's task is
    cancelled at some turn of the loop; it ends (cancelled) and everything is released."""
    src = _Stub()
    src.gate.set()
    batches = 0
    streaming = asyncio.Event()

    async def consume() -> None:
        nonlocal batches
        async for ev in src.events():
            if isinstance(ev, EventBatch) and len(ev.trades):
                batches += 1
                if batches >= 3:
                    streaming.set()

    task = asyncio.create_task(consume())
    await finishes(streaming.wait())
    await finishes(src.term_asked.wait())
    for _ in range(turns):
        await asyncio.sleep(0)
    task.cancel()
    await finishes(asyncio.wait({task}))
    assert task.cancelled()  # the consumer's cancellation is not swallowed on the way out
    assert src.term_cancelled
    _closed_cleanly(src)


async def test_a_task_that_ignores_a_cancellation_is_cancelled_again():
    src = _Stub(swallow=1)
    src.gate.set()
    agen = src.events()
    await next_event(agen, lambda e: isinstance(e, EventBatch) and len(e.trades) > 0)
    await finishes(agen.aclose())
    _closed_cleanly(src)


async def test_the_term_poller_reports_its_own_failure_and_retries(monkeypatch):
    """A bug in the vol-context computation is said once as a FeedStatus error (with the place)
    and the poller retries at the next interval: it never dies silently."""
    calls = []
    real = live_base.term_context

    def flaky(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise ZeroDivisionError("a bug")
        return real(*args, **kwargs)

    monkeypatch.setattr(live_base, "term_context", flaky)
    src = _Stub(busy=False, term_rows=[], term_vol_interval_s=0.01)
    src.gate.set()
    agen = src.events()
    seen: list = []
    try:
        await next_event(agen, lambda e: isinstance(e, FeedStatus) and "no usable quote" in (e.message or ""), seen)
    finally:
        await finishes(agen.aclose())
    errors = [e for e in seen if isinstance(e, FeedStatus) and "7DTE" in (e.message or "") and e.kind == "error"]
    assert len(errors) == 1 and "internal error" in errors[0].message and "ZeroDivisionError" in errors[0].message
    assert not any(isinstance(e, VolContext) for e in seen)  # no rows: nothing invented
    assert len(calls) >= 2
