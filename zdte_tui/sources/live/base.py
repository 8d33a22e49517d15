"""The base class of the live market-data adapters (Massive, ThetaData, Tradier).

A provider adapter subclasses :class:`LiveSource` and implements five hooks; everything
else (strike band, re-centering, batching, reconnects, gaps, malformed counting, feed
health) lives here so the three adapters behave alike. The pieces it is built from have their
own modules in this package: errors, secrets, records, backoff, buffer.

Required hooks (provider-specific, see ``sources/<provider>/source.py``):

- ``_channels()`` -> names of the sockets to run (Massive: ``options`` + ``stocks`` /
  ``indices``; ThetaData and Tradier: one socket);
- ``_fetch_chain(underlying, expiry)`` -> :class:`ChainSnapshot` (REST: contracts of the
  same-day expiry with prior-session settled OI, spot if the vendor gives it);
- ``_open_channel(channel)`` -> an open, authenticated websocket. Raise
  :class:`SourceAuthError` on bad credentials (fatal, never retried); any other exception
  is treated as transient and retried with exponential backoff and jitter;
- ``_send_subscriptions(channel, ws, add, remove, full)`` -> send the vendor's
  subscribe/unsubscribe messages for subscription keys;
- ``_parse_frame(channel, data)`` -> :class:`ParsedFrame` (ticks + malformed count).

Optional hooks: ``_channel_for_spot(key)`` / ``_channel_for_option(key)`` (default: the
only channel), ``_spot_key(underlying)`` (default: the symbol), ``label``, and
``_fetch_term_rows(underlying, spot)`` -> the later expiries' quotes near spot (REST) for the
vol context (:mod:`zdte_tui.sources.live.term`; default: the vendor has none, said once as a
``FeedStatus`` and the 7DTE fields stay null).

Data flow::

    socket reader task(s) --frames--> FrameBuffer (bounded) --> events() consumer
                                                                 parse, route, batch

The drop policy of the bounded buffer (slow consumer) is described in
:mod:`zdte_tui.sources.live.buffer`.

**Timestamps.** Ticks carry the vendor's event time. A batch covers ``(start_ns, end_ns]``
where ``start_ns`` is the previous batch's end and ``end_ns = max(clock_ns(), latest tick)``.
A print that arrives after its batch window closed (network latency) is stamped
``start_ns + 1`` of the batch it lands in, so batches stay time-ordered; at most one batch
interval (250 ms by default) of timing is lost for such late prints.
"""

from __future__ import annotations

import abc
import asyncio
import logging
import random
import time
import traceback
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Sequence,
)
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np

from zdte_tui.market.calendar import ET, session_bounds_ns
from zdte_tui.market.events import (
    ChainDefinition,
    Event,
    EventBatch,
    FeedStatus,
    OptionQuotes,
    OptionTrades,
    SpotTicks,
)
from zdte_tui.market.roots import feed_names
from zdte_tui.sources.base import EventSource
from zdte_tui.sources.live.backoff import BackoffPolicy
from zdte_tui.sources.live.buffer import DEFAULT_MAX_BYTES, Control, Frame, FrameBuffer
from zdte_tui.sources.live.config import DEFAULT_STRIKE_BAND_PCT
from zdte_tui.sources.live.errors import (
    PARSE_ERRORS,
    SourceAuthError,
    SourceConnectionError,
)
from zdte_tui.sources.live.health import ChannelHealth
from zdte_tui.sources.live.records import (
    ChainSnapshot,
    ContractSpec,
    ParsedFrame,
    QuoteTick,
    SpotTick,
)
from zdte_tui.sources.live.term import DEFAULT_TERM_RATE, DEFAULT_TERM_VOL_INTERVAL_S, TermRow, term_context

log = logging.getLogger(__name__)

DEFAULT_BATCH_INTERVAL_S = 0.25
DEFAULT_BUFFER_MAX_FRAMES = 10_000
DEFAULT_SILENCE_TIMEOUT_S = 20.0  # a subscribed channel silent this long in the session is stale
DEFAULT_CONNECT_TIMEOUT_S = 30.0  # connect + authenticate, whatever the adapter's own timeouts
DEFAULT_STABLE_AFTER_S = 30.0  # a connection that lived this long resets the failure count
CLOSE_TIMEOUT_S = 5.0  # aclose(): background tasks still running after this are abandoned (logged)
CLOSE_RECANCEL_S = 0.05  # aclose(): a task still running after this is cancelled again




@dataclass
class _Pending:
    spot_ts: list[int] = field(default_factory=list)
    spot_px: list[float] = field(default_factory=list)
    q_ts: list[int] = field(default_factory=list)
    q_idx: list[int] = field(default_factory=list)
    q_bid: list[float] = field(default_factory=list)
    q_ask: list[float] = field(default_factory=list)
    q_bsz: list[int] = field(default_factory=list)
    q_asz: list[int] = field(default_factory=list)
    t_ts: list[int] = field(default_factory=list)
    t_idx: list[int] = field(default_factory=list)
    t_px: list[float] = field(default_factory=list)
    t_sz: list[int] = field(default_factory=list)
    t_ex: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.spot_ts or self.q_ts or self.t_ts)


@dataclass
class _Underlying:
    symbol: str
    expiry: date
    universe: tuple[ContractSpec, ...] = ()  # every same-day contract, sorted by strike
    prev_close: float | None = None
    center: float | None = None  # spot the band was last centered on
    last_spot: float | None = None
    defined: list[ContractSpec] = field(default_factory=list)  # ChainDefinition order
    index_of: dict[str, int] = field(default_factory=dict)
    band_keys: set[str] = field(default_factory=set)  # currently wanted option keys
    last_end_ns: int = 0
    pending: _Pending = field(default_factory=_Pending)


def band_of(contracts: Sequence[ContractSpec], center: float, band_frac: float) -> list[ContractSpec]:
    """Contracts with ``|strike / center - 1| <= band_frac`` (both rights; 0.03 = ±3 %)."""
    lo, hi = center * (1.0 - band_frac), center * (1.0 + band_frac)
    return [c for c in contracts if lo - 1e-9 <= c.strike <= hi + 1e-9]


# ---------------------------------------------------------------------------------------
# the base source


class LiveSource(EventSource, abc.ABC):
    """Base of the live adapters: see the module docstring for the hooks and guarantees."""

    name = "live"
    simulated = False
    clock = None
    max_option_keys: int | None = None  # vendor cap on subscribed contracts (Massive: 1,000)
    tick_observer: Callable[[str, int, ParsedFrame], None] | None = None
    """Optional: called with (channel, receive ns, parsed frame) for every parsed frame
    (``zdte doctor`` times the first ticks with it); it must not raise."""

    def __init__(
        self,
        symbols: Iterable[str],
        *,
        session_date: date | None = None,
        strike_band_pct: float = DEFAULT_STRIKE_BAND_PCT,
        recenter_fraction: float = 0.5,
        batch_interval_s: float = DEFAULT_BATCH_INTERVAL_S,
        buffer_max_frames: int = DEFAULT_BUFFER_MAX_FRAMES,
        backoff: BackoffPolicy | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[Any]] | None = None,
        clock_ns: Callable[[], int] | None = None,
        max_consecutive_failures: int | None = None,
        spot_wait_s: float = 30.0,
        buffer_max_bytes: int = DEFAULT_MAX_BYTES,
        silence_timeout_s: float = DEFAULT_SILENCE_TIMEOUT_S,
        connect_timeout_s: float = DEFAULT_CONNECT_TIMEOUT_S,
        stable_after_s: float = DEFAULT_STABLE_AFTER_S,
        monotonic: Callable[[], float] | None = None,
        term_vol_interval_s: float = DEFAULT_TERM_VOL_INTERVAL_S,
        term_rate: float = DEFAULT_TERM_RATE,
    ) -> None:
        syms = tuple(dict.fromkeys(s.strip().upper() for s in symbols if s and s.strip()))
        if not syms:
            raise ValueError(f"{self.name}: at least one symbol is required")
        if not 0.0 < strike_band_pct < 100.0:
            raise ValueError("strike_band_pct is a percent of spot: expected 0 < pct < 100")
        self.symbols = syms
        self._clock_ns = clock_ns or time.time_ns
        self.session_date = session_date or datetime.fromtimestamp(
            self._clock_ns() / 1e9, tz=ET).date()
        self.strike_band_pct = float(strike_band_pct)  # percent
        self._band_frac = self.strike_band_pct / 100.0
        self.recenter_fraction = float(recenter_fraction)
        self.batch_interval_s = float(batch_interval_s)
        self.backoff = backoff or BackoffPolicy()
        self._rng = rng or random.Random()
        self._sleep = sleep or asyncio.sleep
        self.max_consecutive_failures = max_consecutive_failures
        self.spot_wait_s = spot_wait_s
        self._buffer = FrameBuffer(buffer_max_frames, self._clock_ns, self.name, max_bytes=buffer_max_bytes)
        self.silence_timeout_s = float(silence_timeout_s)
        self.connect_timeout_s = float(connect_timeout_s)
        self.stable_after_s = float(stable_after_s)
        self._monotonic = monotonic or time.monotonic
        self.term_vol_interval_s = float(term_vol_interval_s)
        self.term_rate = float(term_rate)
        self._bg_out: list[Event] = []  # from background tasks (term poller, a task's death): emitted at the next flush
        self._health: dict[str, ChannelHealth] = {}
        self._session_ns: tuple[int, int] | None = None
        self._state: dict[str, _Underlying] = {
            s: _Underlying(symbol=s, expiry=self.session_date) for s in syms}
        self._spot_route: dict[str, str] = {self._spot_key(s): s for s in syms}
        self._option_route: dict[str, tuple[str, int]] = {}
        self._conns: dict[str, Any] = {}
        self._sent: dict[str, set[str]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._gap_channels: set[str] = set()
        self._tasks: list[asyncio.Task] = []
        self._closing = False
        self._malformed_pending = 0
        # public counters (status / tests)
        self.malformed_total = 0
        self.reconnects = 0
        self.unknown_symbol_total = 0
        self.internal_error_total = 0  # parser exceptions that are bugs, not malformed data
        self._internal_errors_seen: set[tuple[str, str]] = set()
        self.backoff_delays_s: list[float] = []

    # ---- hooks ---------------------------------------------------------------------

    @abc.abstractmethod
    def _channels(self) -> tuple[str, ...]: ...

    @abc.abstractmethod
    async def _fetch_chain(self, underlying: str, expiry: date) -> ChainSnapshot: ...

    @abc.abstractmethod
    async def _open_channel(self, channel: str) -> Any: ...

    @abc.abstractmethod
    async def _send_subscriptions(self, channel: str, ws: Any, add: Sequence[str],
                                  remove: Sequence[str], full: Sequence[str]) -> None: ...

    @abc.abstractmethod
    def _parse_frame(self, channel: str, data: str | bytes) -> ParsedFrame: ...

    def _spot_key(self, underlying: str) -> str:
        return underlying

    def _channel_for_spot(self, key: str) -> str:
        return self._channels()[0]

    def _channel_for_option(self, key: str) -> str:
        return self._channels()[0]

    def _channel_feed(self, channel: str) -> str | None:
        """Feed name reported on a channel's gap markers (None: the channel carries several)."""
        return None

    async def _close_extra(self) -> None:
        """Release REST clients etc."""

    async def _fetch_term_rows(self, underlying: str, spot: float) -> list[TermRow]:
        """Quotes of the underlying's later expiries (within two weeks) near ``spot``, for the vol
        context. Raise ``NotImplementedError`` when the vendor offers none (the default)."""
        raise NotImplementedError

    # ---- public surface ---------------------------------------------------------------

    @property
    def label(self) -> str:
        return f"{self.name.upper()} LIVE {','.join(self.symbols)} (strikes ±{self.strike_band_pct:g}% of spot)"

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(symbols={self.symbols!r}, "
                f"session_date={self.session_date.isoformat()}, band={self.strike_band_pct})")

    async def aclose(self) -> None:
        """Stop the socket readers and the term poller, close the sockets and REST clients.

        Prompt whatever the source is doing: each background task is cancelled, and cancelled
        again every ``CLOSE_RECANCEL_S`` while it still runs (a cancellation can be lost: Python
        3.11's ``asyncio.wait_for`` drops one that lands as the awaited work completes, CPython
        gh-86296; a vendor library may swallow one); a task still running after
        ``CLOSE_TIMEOUT_S`` is abandoned with a warning. A cancellation of the *caller* (the
        consumer stopping) is never swallowed here: it propagates once the sockets are closed."""
        self._closing = True
        try:
            await self._stop_tasks()
        finally:
            conns = list(self._conns.values())
            self._conns.clear()
            for ws in conns:
                try:
                    await ws.close()
                except Exception:  # noqa: BLE001 - a socket that fails to close is closed enough
                    pass
            await self._close_extra()

    async def _stop_tasks(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CLOSE_TIMEOUT_S
        pending = {t for t in self._tasks if not t.done()}
        while pending:
            left = deadline - loop.time()
            if left <= 0:
                log.warning("%s: %d background task(s) ignored cancellation and were abandoned: %s", self.name,
                            len(pending), ", ".join(sorted(t.get_name() for t in pending)))
                break
            for task in pending:
                task.cancel()
            _, pending = await asyncio.wait(pending, timeout=min(CLOSE_RECANCEL_S, left))

    def _spawn(self, coro: Awaitable[None], name: str) -> None:
        task = asyncio.ensure_future(coro)
        task.set_name(f"{self.name}:{name}")
        task.add_done_callback(self._task_ended)
        self._tasks.append(task)

    def _task_ended(self, task: asyncio.Task) -> None:
        """A background task that dies of an exception is a bug: logged with its traceback and
        said as a FeedStatus error at the next flush, never silent."""
        if task.cancelled() or task.exception() is None:
            return
        exc = task.exception()
        log.error("%s: background task %s stopped", self.name, task.get_name(), exc_info=exc)
        if not self._closing:
            self._bg_out.append(FeedStatus(
                kind="error", ts_ns=self._clock_ns(),
                message=f"{self.name}: internal error: {task.get_name()} stopped ({type(exc).__name__}); "
                        f"please report it with the log"))

    async def events(self) -> AsyncIterator[Event]:
        try:
            async for ev in self._events():
                yield ev
        finally:
            await self.aclose()

    # ---- the consumer -----------------------------------------------------------------

    async def _events(self) -> AsyncIterator[Event]:
        out: list[Event] = []
        snapshots = []
        for sym in self.symbols:
            failures = 0
            while True:
                try:
                    snapshots.append(await self._fetch_chain(sym, self.session_date))
                    break
                except (SourceAuthError, asyncio.CancelledError):
                    raise
                except Exception as exc:  # network trouble or a malformed reply: retry
                    failures += 1
                    if (self.max_consecutive_failures is not None
                            and failures > self.max_consecutive_failures):
                        raise SourceConnectionError(
                            f"{self.name}: chain request for {sym} failed {failures} times "
                            f"({type(exc).__name__})") from None
                    delay = self.backoff.delay_s(failures - 1, self._rng)
                    self.backoff_delays_s.append(delay)
                    yield FeedStatus(kind="error", ts_ns=self._clock_ns(), underlying=sym,
                                     feed="oi_feed",
                                     message=f"{self.name}: chain request for {sym} failed "
                                             f"({type(exc).__name__}); retry in {delay:.2f} s")
                    await self._sleep(delay)
        oi_ts = self._clock_ns()
        for snap in snapshots:
            st = self._state[snap.underlying]
            st.universe = tuple(sorted(snap.contracts, key=lambda c: (c.strike, not c.is_call)))
            st.prev_close = snap.prev_close
            st.last_end_ns = oi_ts
            out.append(FeedStatus(kind="delivered", ts_ns=oi_ts, underlying=st.symbol,
                                  feed="oi_feed",
                                  message=f"{len(st.universe)} same-day contracts"))
            if snap.malformed:
                self.malformed_total += snap.malformed
                out.append(FeedStatus(kind="malformed", ts_ns=oi_ts, underlying=st.symbol, feed="oi_feed",
                                      count=snap.malformed,
                                      message=f"{self.name}: {snap.malformed} malformed chain row(s) for "
                                              f"{st.symbol} skipped"))
            for note in snap.notes:
                out.append(FeedStatus(kind="error", ts_ns=oi_ts, underlying=st.symbol, feed="oi_feed",
                                      message=note))
            if not st.universe:
                out.append(FeedStatus(kind="error", ts_ns=oi_ts, underlying=st.symbol,
                                      message=f"{self.name}: no {st.expiry.isoformat()} contracts "
                                              f"for {st.symbol}"))
            if snap.spot is not None and snap.spot > 0:
                st.last_spot = snap.spot
                self._recenter(st, snap.spot, out, oi_ts)
        for ch in self._channels():
            self._sent[ch] = set()
            self._locks[ch] = asyncio.Lock()
            self._spawn(self._run_channel(ch), ch)
        self._spawn(self._term_vol_loop(), "term")
        for ev in out:
            yield ev
        out.clear()

        loop = asyncio.get_running_loop()
        next_flush = loop.time() + self.batch_interval_s
        waiting_since = loop.time()
        while True:
            item = await self._buffer.get(next_flush - loop.time())
            if isinstance(item, Frame):
                self._ingest(item, out)
            elif isinstance(item, Control):
                if item.kind == "fatal":
                    assert item.exc is not None
                    raise item.exc
                self._flush(out, self._clock_ns())
                self._on_control(item, out)
            if loop.time() >= next_flush:
                self._flush(out, self._clock_ns())
                if self._bg_out:
                    out.extend(self._bg_out)
                    self._bg_out.clear()
                self._watch_silence(out)
                next_flush = loop.time() + self.batch_interval_s
                if any(st.center is None for st in self._state.values()):
                    if loop.time() - waiting_since > self.spot_wait_s:
                        missing = [s for s, st in self._state.items() if st.center is None]
                        out.append(FeedStatus(kind="error", ts_ns=self._clock_ns(),
                                              message=f"{self.name}: no spot yet for "
                                                      f"{','.join(missing)}; options not subscribed"))
                        waiting_since = loop.time()
            if out:
                await self._sync_all()
                for ev in out:
                    yield ev
                out.clear()

    def _ingest(self, frame: Frame, out: list[Event]) -> None:
        h = self._health.get(frame.channel)
        if h is not None and h.stale:  # data again after a silence: close the stale gap
            h.stale = False
            self._flush(out, frame.recv_ns)
            self._on_control(Control("gap_end", frame.channel, frame.recv_ns,
                                     message=f"{self.name} {frame.channel}: data again after a silence"), out)
        try:
            parsed = self._parse_frame(frame.channel, frame.data)
        except PARSE_ERRORS:  # the frame does not follow the vendor's format
            parsed = ParsedFrame(malformed=1)
        except Exception as exc:  # a bug in zdte, not bad data: reported, the stream goes on
            self._report_internal_error(exc, frame, out)
            return
        if self.tick_observer is not None:
            self.tick_observer(frame.channel, frame.recv_ns, parsed)
        if parsed.auth_failure:
            raise SourceAuthError(f"{self.name}: {parsed.auth_failure}")
        if parsed.malformed:
            self._malformed_pending += parsed.malformed
            self.malformed_total += parsed.malformed
        for note in parsed.notices:
            out.append(FeedStatus(kind="error", ts_ns=frame.recv_ns,
                                  message=f"{self.name} {frame.channel}: {note}"))
        for tick in parsed.ticks:
            if isinstance(tick, SpotTick):
                sym = self._spot_route.get(tick.key)
                if sym is None:
                    self.unknown_symbol_total += 1
                    continue
                st = self._state[sym]
                if not (tick.price > 0):
                    self._malformed_pending += 1
                    self.malformed_total += 1
                    continue
                st.pending.spot_ts.append(tick.ts_ns)
                st.pending.spot_px.append(tick.price)
                st.last_spot = tick.price
                if st.center is None or self._needs_recenter(st, tick.price):
                    self._recenter(st, tick.price, out, max(tick.ts_ns, st.last_end_ns))
                continue
            route = self._option_route.get(tick.key)
            if route is None:
                self.unknown_symbol_total += 1
                continue
            sym, idx = route
            p = self._state[sym].pending
            if isinstance(tick, QuoteTick):
                p.q_ts.append(tick.ts_ns)
                p.q_idx.append(idx)
                p.q_bid.append(tick.bid)
                p.q_ask.append(tick.ask)
                p.q_bsz.append(tick.bid_size)
                p.q_asz.append(tick.ask_size)
            else:
                p.t_ts.append(tick.ts_ns)
                p.t_idx.append(idx)
                p.t_px.append(tick.price)
                p.t_sz.append(tick.size)
                p.t_ex.append(tick.exchange)

    def _report_internal_error(self, exc: Exception, frame: Frame, out: list[Event]) -> None:
        """Count an unexpected exception of the frame parser; log its traceback and report it
        as an error (shown by ``status()``) once per exception type and place."""
        self.internal_error_total += 1
        tb = traceback.extract_tb(exc.__traceback__)
        where = f"{tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno}" if tb else "?"
        signature = (type(exc).__name__, where)
        if signature in self._internal_errors_seen:
            return
        self._internal_errors_seen.add(signature)
        log.error("%s %s: internal error while parsing a frame", self.name, frame.channel, exc_info=exc)
        out.append(FeedStatus(kind="error", ts_ns=frame.recv_ns,
                              message=f"{self.name} {frame.channel}: internal error while parsing a "
                                      f"frame ({type(exc).__name__} at {where}); frames of this kind "
                                      f"are skipped; please report it with the log"))

    def _symbol_in_gap(self, st: _Underlying) -> bool:
        if not self._gap_channels:
            return False
        chans = {self._channel_for_spot(self._spot_key(st.symbol))}
        chans.update(self._channel_for_option(k) for k in st.band_keys)
        return bool(chans & self._gap_channels)

    def _flush(self, out: list[Event], now_ns: int) -> None:
        """Emit one EventBatch per defined underlying (empty ones too, unless in a gap)."""
        for st in self._state.values():
            if st.center is None:
                continue  # no ChainDefinition yet: keep spot ticks pending
            p = st.pending
            if not p and self._symbol_in_gap(st):
                continue
            start = st.last_end_ns
            floor = start + 1
            spot_ts = np.maximum(np.asarray(p.spot_ts, np.int64), floor)
            q_ts = np.maximum(np.asarray(p.q_ts, np.int64), floor)
            t_ts = np.maximum(np.asarray(p.t_ts, np.int64), floor)
            latest = max([now_ns, start] + [int(a.max()) for a in (spot_ts, q_ts, t_ts) if a.size])
            so, qo, to = (np.argsort(a, kind="stable") for a in (spot_ts, q_ts, t_ts))
            batch = EventBatch(
                underlying=st.symbol, start_ns=start, end_ns=latest,
                spot=SpotTicks(ts_ns=spot_ts[so], price=np.asarray(p.spot_px, np.float64)[so]),
                quotes=OptionQuotes(
                    ts_ns=q_ts[qo], contract=np.asarray(p.q_idx, np.int32)[qo],
                    bid=np.asarray(p.q_bid, np.float64)[qo], ask=np.asarray(p.q_ask, np.float64)[qo],
                    bid_size=np.asarray(p.q_bsz, np.int32)[qo],
                    ask_size=np.asarray(p.q_asz, np.int32)[qo]),
                trades=OptionTrades(
                    ts_ns=t_ts[to], contract=np.asarray(p.t_idx, np.int32)[to],
                    price=np.asarray(p.t_px, np.float64)[to], size=np.asarray(p.t_sz, np.int32)[to],
                    exchange=np.asarray(p.t_ex, np.int16)[to]))
            out.append(batch)
            spot_feed, opt_feed = feed_names(st.symbol)
            if spot_ts.size:
                out.append(FeedStatus(kind="delivered", ts_ns=int(spot_ts.max()),
                                      underlying=st.symbol, feed=spot_feed))
            if q_ts.size or t_ts.size:
                opt_latest = max(int(a.max()) for a in (q_ts, t_ts) if a.size)
                out.append(FeedStatus(kind="delivered", ts_ns=opt_latest,
                                      underlying=st.symbol, feed=opt_feed))
            st.last_end_ns = latest
            st.pending = _Pending()
        if self._malformed_pending:
            n, self._malformed_pending = self._malformed_pending, 0
            log.warning("%s: skipped %d malformed message(s)", self.name, n)
            out.append(FeedStatus(kind="malformed", ts_ns=now_ns, count=n,
                                  message=f"{self.name}: {n} malformed message(s) skipped"))

    def _on_control(self, item: Control, out: list[Event]) -> None:
        feed = self._channel_feed(item.channel)
        if item.kind in ("gap_start", "gap_end"):
            in_gap = item.channel in self._gap_channels
            if (item.kind == "gap_start") == in_gap and not item.count:
                return  # already in (or out of) a gap on this channel: one gap, not two
            if item.kind == "gap_start":
                self._gap_channels.add(item.channel)
            else:
                self._gap_channels.discard(item.channel)
            for st in self._state.values():
                ts = max(item.ts_ns, st.last_end_ns)
                out.append(FeedStatus(kind=item.kind, ts_ns=ts, underlying=st.symbol, feed=feed,
                                      message=item.message, count=item.count))
                if item.kind == "gap_end":
                    st.last_end_ns = ts
        else:
            out.append(FeedStatus(kind="error", ts_ns=item.ts_ns, feed=feed, message=item.message))

    # ---- strike band -----------------------------------------------------------------

    def _needs_recenter(self, st: _Underlying, spot: float) -> bool:
        assert st.center is not None
        return abs(spot / st.center - 1.0) > self._band_frac * self.recenter_fraction

    def _recenter(self, st: _Underlying, spot: float, out: list[Event], ts_ns: int) -> None:
        """Center the band on ``spot``: new contracts are appended to the definition (earlier
        indices kept) and a new ChainDefinition is emitted; far contracts are unsubscribed."""
        first = st.center is None
        st.center = spot
        band = band_of(st.universe, spot, self._band_frac)
        new = [c for c in band if c.key not in st.index_of]
        for c in new:
            st.index_of[c.key] = len(st.defined)
            self._option_route[c.key] = (st.symbol, len(st.defined))
            st.defined.append(c)
        st.band_keys = {c.key for c in band}
        total = sum(len(x.band_keys) for x in self._state.values())
        if self.max_option_keys is not None and total > self.max_option_keys:
            out.append(FeedStatus(kind="error", ts_ns=ts_ns, underlying=st.symbol,
                                  message=f"{self.name}: {total} contracts in the strike band exceed "
                                          f"the vendor limit of {self.max_option_keys}; narrow "
                                          f"strike_band_pct"))
        if first or new:
            out.append(ChainDefinition(
                underlying=st.symbol, expiry=st.expiry,
                strikes=[c.strike for c in st.defined], is_call=[c.is_call for c in st.defined],
                settled_oi=[c.settled_oi for c in st.defined],
                occ_symbols=tuple(c.occ for c in st.defined), prev_close=st.prev_close))
        if not first:
            out.append(FeedStatus(kind="info", ts_ns=ts_ns, underlying=st.symbol,
                                  message=f"{self.name}: strike band re-centered on {spot:.2f} "
                                          f"({len(band)} contracts, {len(new)} new)"))

    # ---- subscriptions ---------------------------------------------------------------

    def _desired(self, channel: str) -> set[str]:
        want: set[str] = set()
        for st in self._state.values():
            key = self._spot_key(st.symbol)
            if self._channel_for_spot(key) == channel:
                want.add(key)
            want.update(k for k in st.band_keys if self._channel_for_option(k) == channel)
        return want

    async def _sync_channel(self, channel: str) -> None:
        lock = self._locks[channel]
        async with lock:
            ws = self._conns.get(channel)
            if ws is None:
                return
            desired = self._desired(channel)
            sent = self._sent[channel]
            add, remove = sorted(desired - sent), sorted(sent - desired)
            if not add and not remove:
                return
            try:
                await self._send_subscriptions(channel, ws, add, remove, sorted(desired))
            except Exception as exc:  # the reader notices the dead socket and resubscribes
                log.info("%s %s: subscription send failed: %s", self.name, channel,
                         type(exc).__name__)
                return
            self._sent[channel] = desired

    async def _sync_all(self) -> None:
        for ch in self._channels():
            if ch in self._conns:
                await self._sync_channel(ch)

    # ---- the socket readers -----------------------------------------------------------

    async def _run_channel(self, channel: str) -> None:
        """Connect, read, reconnect. Every failure (a refused or timed-out connect, or a
        connection that dropped before living ``stable_after_s``) adds one to the failure count
        and waits the backoff for it; only a connection that stayed up that long starts the
        count again at one. So a server that accepts, authenticates and closes at once is
        retried at 0.5, 1, 2, ... 30 s, never in a tight loop. Time before the first connection
        is a gap (it opens at the first failure, stamped when the channel started)."""
        h = self._health.setdefault(channel, ChannelHealth())
        failures = 0
        gap_open = False
        started_ns = self._clock_ns()
        while not self._closing:
            h.circuit = "half_open" if failures else "connecting"
            try:
                # asyncio.timeout, not wait_for: on Python 3.11 wait_for can drop a cancellation that
                # lands as the connect completes (gh-86296) and the reader would then run for ever
                async with asyncio.timeout(self.connect_timeout_s):
                    ws = await self._open_channel(channel)
            except asyncio.CancelledError:
                raise
            except SourceAuthError as exc:
                h.circuit, h.last_error = "open", str(exc)
                self._buffer.put_control(Control("fatal", channel, self._clock_ns(), exc=exc))
                return
            except Exception as exc:
                failures += 1
                reason = ("timed out" if isinstance(exc, TimeoutError) else type(exc).__name__)
                if not gap_open:
                    gap_open = True
                    ts = started_ns if h.connects == 0 else self._clock_ns()
                    self._buffer.put_control(Control("gap_start", channel, ts,
                                                      message=f"{self.name} {channel}: not connected ({reason})"))
                if not await self._back_off(channel, h, failures, f"connect failed ({reason})"):
                    return
                continue
            self._conns[channel] = ws
            self._sent[channel] = set()
            h.on_connected(self._monotonic())
            await self._sync_channel(channel)
            if gap_open:
                self._buffer.put_control(Control("gap_end", channel, self._clock_ns(),
                                                  message=f"{self.name} {channel}: reconnected"))
                gap_open = False
            try:
                async for data in ws:
                    h.last_frame_s = self._monotonic()
                    h.frames += 1
                    self._buffer.put_frame(Frame(channel, self._clock_ns(), data))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.info("%s %s: connection lost (%s)", self.name, channel, type(exc).__name__)
            self._conns.pop(channel, None)
            if self._closing:
                return
            self.reconnects += 1
            lived = self._monotonic() - (h.connected_since_s or self._monotonic())
            failures = 1 if lived >= self.stable_after_s else failures + 1
            h.connected, h.stale = False, False
            self._buffer.close_episode(channel)  # a drop episode ends where the disconnect gap begins
            if not gap_open:
                gap_open = True
                self._buffer.put_control(Control("gap_start", channel, self._clock_ns(),
                                                  message=f"{self.name} {channel}: disconnected"))
            if not await self._back_off(channel, h, failures, f"connection lost after {lived:.1f} s"):
                return

    async def _back_off(self, channel: str, h: ChannelHealth, failures: int, what: str) -> bool:
        """Wait the backoff for the ``failures``-th consecutive failure (circuit open meanwhile);
        False (after a fatal control) when ``max_consecutive_failures`` is exceeded."""
        if self.max_consecutive_failures is not None and failures > self.max_consecutive_failures:
            err = SourceConnectionError(f"{self.name} {channel}: gave up after {failures - 1} reconnect attempts "
                                        f"({what})")
            h.circuit, h.last_error = "open", str(err)
            self._buffer.put_control(Control("fatal", channel, self._clock_ns(), exc=err))
            return False
        delay = self.backoff.delay_s(failures - 1, self._rng)
        self.backoff_delays_s.append(delay)
        del self.backoff_delays_s[:-1000]
        msg = f"{self.name} {channel}: {what}; retry in {delay:.2f} s (failure {failures})"
        log.info("%s", msg)
        h.circuit, h.failures, h.last_error = "open", failures, what
        h.retry_at_s = self._monotonic() + delay
        self._buffer.put_control(Control("error", channel, self._clock_ns(), message=msg))
        await self._sleep(delay)
        h.retry_at_s = None
        return True

    # ---- vol context ---------------------------------------------------------------
    async def _term_vol_loop(self) -> None:
        """Every ``term_vol_interval_s`` per underlying (from its first spot on), the next-week
        expiry's ATM IV (:func:`~zdte_tui.sources.live.term.term_context`). Any failure, of the
        request or of the computation, is said as a ``FeedStatus`` error and retried at the next
        interval; it never stops the stream or the poller. 0 s disables the poller."""
        if self.term_vol_interval_s <= 0:
            return
        loop = asyncio.get_running_loop()
        due: dict[str, float] = {}  # loop time of each underlying's next request
        while not self._closing:
            for sym in self.symbols:
                spot = self._state[sym].last_spot
                if spot is None or due.get(sym, 0.0) > loop.time():
                    continue
                due[sym] = loop.time() + self.term_vol_interval_s
                if not await self._poll_term(sym, spot):
                    return  # the vendor has no later expiry: said once
            waiting = len(due) < len(self.symbols)  # an underlying without spot yet: look again soon
            next_due = min(due.values(), default=loop.time()) - loop.time()
            await asyncio.sleep(min(next_due, 0.05) if waiting else max(next_due, 0.0))

    async def _poll_term(self, sym: str, spot: float) -> bool:
        """One vol-context request for ``sym``; the outcome goes to the next flush. False when
        the vendor offers no later expiry (the poller stops)."""
        retry = f"retry in {self.term_vol_interval_s:g} s"
        try:
            rows = await self._fetch_term_rows(sym, spot)
        except NotImplementedError:
            self._bg_out.append(FeedStatus(
                kind="info", ts_ns=self._clock_ns(), underlying=sym,
                message=f"{self.name}: no later expiry from this vendor: 7DTE IV not available"))
            return False
        except Exception as exc:  # noqa: BLE001 - network, entitlement, a malformed reply: said, retried
            reason = str(exc) if isinstance(exc, SourceAuthError) else type(exc).__name__
            self._bg_out.append(FeedStatus(
                kind="error", ts_ns=self._clock_ns(), underlying=sym,
                message=f"{self.name}: 7DTE IV of {sym} unavailable ({reason}); {retry}"))
            return True
        try:
            vc = term_context(sym, self._clock_ns(), self.session_date, spot, rows, rate=self.term_rate,
                              origin=self.name)
        except Exception as exc:  # noqa: BLE001 - a bug in zdte, not bad data: said with the place, retried
            tb = traceback.extract_tb(exc.__traceback__)
            where = f"{tb[-1].filename.rsplit('/', 1)[-1]}:{tb[-1].lineno}" if tb else "?"
            log.error("%s: internal error computing the vol context of %s", self.name, sym, exc_info=exc)
            self._bg_out.append(FeedStatus(
                kind="error", ts_ns=self._clock_ns(), underlying=sym,
                message=f"{self.name}: 7DTE IV of {sym} unavailable (internal error: {type(exc).__name__} "
                        f"at {where}; please report it with the log); {retry}"))
            return True
        if vc.term_atm_iv is None:
            self._bg_out.append(FeedStatus(
                kind="info", ts_ns=vc.ts_ns, underlying=sym,
                message=f"{self.name}: no usable quote of a later {sym} expiry near spot "
                        f"({len(rows)} row(s)): 7DTE IV not available now"))
        else:
            self._bg_out.append(vc)
        return True

    # ---- health ----------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """Per-channel circuit state, failures, staleness and buffer drops (``FlowService.status``)."""
        now = self._monotonic()
        return {
            "channels": {ch: h.as_dict(now) for ch, h in self._health.items()},
            "buffer": {"frames": self._buffer.n_frames, "bytes": self._buffer.n_bytes,
                       "max_frames": self._buffer.max_frames, "max_bytes": self._buffer.max_bytes,
                       "dropped_frames": self._buffer.dropped_total, "dropped_bytes": self._buffer.dropped_bytes},
            "reconnects": self.reconnects, "malformed": self.malformed_total,
        }

    def _in_session(self, now_ns: int) -> bool:
        if self._session_ns is None:
            try:
                self._session_ns = session_bounds_ns(self.session_date)
            except ValueError:  # not a trading day: no session, no watchdog
                self._session_ns = (0, 0)
        return self._session_ns[0] <= now_ns <= self._session_ns[1]

    def _watch_silence(self, out: list[Event]) -> None:
        """Mark a connected, subscribed channel stale (a gap) when it has been silent for
        ``silence_timeout_s`` during the session; its next frame ends the gap (see ``_ingest``)."""
        now_ns = self._clock_ns()
        if not self._in_session(now_ns):
            return
        now = self._monotonic()
        for ch, h in self._health.items():
            if not h.connected or h.stale or ch in self._gap_channels or not self._sent.get(ch):
                continue
            quiet = now - max(h.last_frame_s or 0.0, h.connected_since_s or 0.0)
            if quiet >= self.silence_timeout_s:
                h.stale = True
                self._flush(out, now_ns)
                self._on_control(Control("gap_start", ch, now_ns,
                                         message=f"{self.name} {ch}: no data for {quiet:.0f} s: stale"), out)

