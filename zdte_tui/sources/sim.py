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
new time; or, when the consumer offers an engine checkpoint through ``resume_points``, only the
history after that checkpoint; the initial history too, when the consumer offers a state at or
before ``at`` before the play starts, as the day cache does). With ``linger=True`` the source stays
open at the close so a later backward seek still works (interactive use); by default it ends at the close.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import time
import zipfile
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping
from pathlib import Path

import numpy as np

from zdte_tui.market.calendar import default_session_date, et_clock_to_ns, session_bounds_ns
from zdte_tui.market.events import (
    NS_PER_SECOND,
    ChainDefinition,
    Event,
    EventBatch,
    OptionQuotes,
    OptionTrades,
    SessionReset,
    SpotTicks,
    VolContext,
)
from zdte_tui.market.term import TERM_TARGET_DAYS, simulated_term_atm_iv
from zdte_tui.sources.base import EventSource
from zdte_tui.sources.clock import PacedClock, SleepFn
from zdte_tui.sources.sim_model import (
    SCENARIOS,
    SessionPlan,
    SessionTruth,
    SimulatedSession,
    TradePlanArgs,
    iter_session_blocks,
    plan_session,
    resolve_scenario,
    session_truth,
    simulate_session,
    trade_plan,
    trade_plan_fingerprint,
)

__all__ = ["SCENARIOS", "SessionTruth", "SimSource", "SimulatedSession", "simulate_session"]

HISTORY_CHUNK_NS = 30 * 60 * NS_PER_SECOND  # history is delivered in chunks this long
HISTORY_SLICE_NS = 30 * NS_PER_SECOND
"""History (and anything delivered at once) comes in slices aligned to 30 s ET boundaries."""


class SimSource(EventSource):
    """Simulated 0DTE sessions for ``symbols`` on one ``session_date`` (default: today if a
    trading day, else the last one), played from ``at`` (``"HH:MM"`` ET, int ns UTC, or None
    for the open) at ``speed`` session seconds per wall second (None/0: as fast as possible).
    ``levels`` maps a symbol to the price level its day is simulated around (configuration or the
    last recording seen); other symbols use their dated reference level (docs/simulator.md).
    """

    name = "sim"
    simulated = True

    def __init__(self, symbols: str | Iterable[str], session_date: dt.date | None = None, seed: int = 7,
                 scenario: str = "auto", at: str | int | None = "10:30", speed: float | None = 1.0,
                 batch_seconds: float = 0.25, *, linger: bool = False,
                 time_fn: Callable[[], float] = time.monotonic, sleep: SleepFn = asyncio.sleep,
                 now: dt.datetime | None = None, keep_full: bool = False,
                 levels: Mapping[str, float] | None = None, plan_cache: TradePlanCache | None = None) -> None:
        names = [symbols] if isinstance(symbols, str) else list(symbols)
        self.symbols = tuple(dict.fromkeys(s.strip().upper() for s in names if s.strip()))
        if not self.symbols:
            raise ValueError("SimSource needs at least one symbol")
        if session_date is None:
            session_date = default_session_date(now or dt.datetime.now(dt.UTC))
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
                                min_ns=self.open_ns, fast_step_ns=HISTORY_CHUNK_NS)
        self.keep_full = keep_full
        self.levels = {k.strip().upper(): float(v) for k, v in (levels or {}).items()}
        self.plan_cache = plan_cache
        self._sessions: dict[str, SimulatedSession | CompactSession] = {}
        self._vol: dict[str, VolContext] = {}
        self._closed = False

    @property
    def label(self) -> str:
        return f"SIMULATED seed {self.seed} · {self.scenario}"

    def session(self, symbol: str) -> SimulatedSession:
        """The generated session of ``symbol`` with its truth (cached when ``keep_full``; otherwise the
        source keeps only a compact copy of the events, and this regenerates it: same seed, same bytes)."""
        sym = symbol.strip().upper()
        held = self._sessions.get(sym)
        if isinstance(held, SimulatedSession):
            return held
        full = simulate_session(sym, self.session_date, self.seed, self.scenario, self.levels.get(sym))
        if self.keep_full:
            self._sessions[sym] = full
        return full

    def _generate(self, sym: str) -> SimulatedSession | CompactSession:
        held: SimulatedSession | CompactSession
        if self.keep_full:
            held = simulate_session(sym, self.session_date, self.seed, self.scenario, self.levels.get(sym))
            self._vol[sym] = _term_context(held.symbol, held.session_date, held.open_ns,
                                           float(held.info["atm_iv_open"]))
            return held
        # block by block straight into the compact copy, and only as far as the play needs: the blocks up
        # to the start (_generate_through, the history of the first screen), each later block when the clock
        # reaches it
        plan = plan_session(sym, self.session_date, self.seed, self.scenario, self.levels.get(sym),
                            trade_plan=self.plan_cache)
        self._vol[sym] = _term_context(plan.symbol, plan.session_date, plan.open_ns, plan.atm_open)
        held = CompactSession.lazy(plan)
        del plan
        return held

    def _generate_through(self, sym: str, through_ns: int) -> SimulatedSession | CompactSession:
        """:meth:`_generate` (a subclass's may hold its sessions elsewhere), with a lazily generated session's
        blocks up to ``through_ns`` made here, on the worker thread, not in the event loop."""
        held = self._generate(sym)
        if isinstance(held, CompactSession):
            held.generate_through(through_ns)
        return held

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
        # A consumer holding an engine state at or before the start (the day cache) resumes from it:
        # a SessionReset naming it, then only the history after it, in the same slices.
        resume = self.resume_point(delivered)
        if resume is not None:
            yield SessionReset(ts_ns=delivered, resume_ns=resume)
        # Symbol by symbol: the first (the one on screen) is generated and its history delivered before
        # the others are generated, so a monitor shows its symbol as early as possible.
        for sym in self.symbols:
            if sym not in self._sessions:
                self._sessions[sym] = await asyncio.to_thread(self._generate_through, sym, delivered)
            if resume is None:
                yield self._sessions[sym].chain
                yield self._vol[sym]
            for lo, hi in self._aligned_slices(origin_ns if resume is None else resume, delivered):
                yield self._sessions[sym].batch(lo, hi)
                await asyncio.sleep(0)
        while not self._closed:
            if delivered >= self.close_ns and not self.linger:
                return
            target = await self.clock.advance(delivered, self.batch_seconds)
            if self._closed:
                return
            if target < delivered:
                resume = self.resume_point(target)  # the consumer's checkpoint at or before target
                yield SessionReset(ts_ns=target, resume_ns=resume)
                start = origin_ns if resume is None else resume
                for sym in self.symbols:  # delivered events may have been released: regenerate
                    held = self._sessions[sym]
                    if isinstance(held, CompactSession) and held.released_before_ns is not None \
                            and held.released_before_ns > start:
                        self._sessions[sym] = await asyncio.to_thread(self._generate_through, sym, target)
                if resume is None:
                    for chain in self._chains():
                        yield chain
                    for sym in self.symbols:
                        yield self._vol[sym]
                async for event in self._history(start, target):
                    yield event
            elif target - delivered > HISTORY_SLICE_NS:
                async for event in self._history(delivered, target):
                    yield event
            else:
                for batch in self._batches(delivered, target):
                    yield batch
            delivered = target
            for held in self._sessions.values():  # all day in bounded memory: drop what was delivered
                if isinstance(held, CompactSession):
                    held.release_before(delivered)


def stream_simulated_day(symbols: Iterable[str], session_date: dt.date, seed: int = 7, scenario: str = "auto",
                         levels: Mapping[str, float] | None = None, intensity: float = 1.0,
                         truth_out: dict | None = None) -> Iterator[Event]:
    """A whole simulated day of ``symbols`` as the events a :class:`SimSource` played to the close yields
    (chain definitions and vol contexts, the opening slice ``(open - 30 s, open]``, then 30-minute batches,
    symbols interleaved), generated block by block: memory holds each symbol's plan and one block, not
    the day. When the stream is exhausted, ``truth_out[symbol]`` holds each session's truth arrays."""
    levels = {k.strip().upper(): float(v) for k, v in (levels or {}).items()}
    names = list(dict.fromkeys(s.strip().upper() for s in symbols))
    name = resolve_scenario(int(seed), scenario)
    plans = [plan_session(sym, session_date, seed, name, levels.get(sym), intensity) for sym in names]
    for plan in plans:
        yield plan.chain
        yield _term_context(plan.symbol, plan.session_date, plan.open_ns, plan.atm_open)
    empty_q, empty_t = OptionQuotes(), OptionTrades()
    for plan in plans:
        opening = SpotTicks(np.array([plan.open_ns], dtype=np.int64), plan.spot[:1].copy())
        yield EventBatch(plan.symbol, plan.open_ns - HISTORY_SLICE_NS, plan.open_ns, opening, empty_q, empty_t)
    aggressors: dict[str, list[np.ndarray]] = {plan.symbol: [] for plan in plans}
    for blocks in zip(*(iter_session_blocks(plan) for plan in plans)):
        for plan, (a, b, quotes, trades, aggressor) in zip(plans, blocks):
            aggressors[plan.symbol].append(aggressor)
            spot = SpotTicks(plan.open_ns + np.arange(a + 1, b + 1, dtype=np.int64) * NS_PER_SECOND,
                             plan.spot[a + 1:b + 1])
            yield EventBatch(plan.symbol, plan.open_ns + a * NS_PER_SECOND, plan.open_ns + b * NS_PER_SECOND,
                             spot, quotes, trades)
    if truth_out is not None:
        for plan in plans:
            truth_out[plan.symbol] = session_truth(plan, np.concatenate(aggressors.pop(plan.symbol)))


class TradePlanCache:
    """The prints of simulated days on disk (``$XDG_CACHE_HOME/zdte/sim``, default ``~/.cache/zdte/sim``), so a
    later start of the same day loads them instead of drawing them again (the costly half of
    :func:`plan_session`: ~0.3 s CPU for a default SPY day, ~17 MB). Files are keyed by
    :func:`trade_plan_fingerprint` (the model's source, numpy's version, every input and the random state):
    a changed model or input never reads an old file. The ``keep`` most recently used files stay. A file that
    cannot be read is counted in ``rejected`` and replaced; a cache that cannot be written is not an error."""

    def __init__(self, directory: str | os.PathLike[str], keep: int = 8) -> None:
        self.directory = Path(directory)
        self.keep = int(keep)
        self.hits = self.misses = self.rejected = 0

    @classmethod
    def default(cls, env: Mapping[str, str] | None = None) -> TradePlanCache:
        env = os.environ if env is None else env
        base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        return cls(Path(base) / "zdte" / "sim")

    def __call__(self, args: TradePlanArgs) -> dict:
        path = self.directory / f"prints-{trade_plan_fingerprint(args)[:40]}.npz"
        if path.exists():
            prints = self._load(path)
            if prints is not None:
                self.hits += 1
                try:
                    os.utime(path)  # most recently used
                except OSError:
                    pass
                return prints
            self.rejected += 1
        self.misses += 1
        prints = trade_plan(args)
        self._store(path, prints)
        return prints

    @staticmethod
    def _load(path: Path) -> dict | None:
        try:
            with np.load(path, allow_pickle=False) as z:
                prints = {k: z[k] for k in z.files}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
            return None
        lengths = {a.shape for a in prints.values()}
        if not prints or len(lengths) != 1 or len(next(iter(lengths))) != 1:
            return None  # every column is 1-D and as long as the others
        return prints

    def _store(self, path: Path, prints: dict) -> None:
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as f:
                np.savez(f, **prints)
            os.replace(tmp, path)
        except OSError:
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass
            return
        self._prune()

    def _prune(self) -> None:
        try:
            files = sorted(self.directory.glob("prints-*.npz"), key=lambda f: f.stat().st_mtime, reverse=True)
            for old in files[self.keep:]:
                old.unlink(missing_ok=True)
            for tmp in self.directory.glob("prints-*.tmp"):  # a write cut short by an exit
                if time.time() - tmp.stat().st_mtime > 3600:
                    tmp.unlink(missing_ok=True)
        except OSError:
            pass


def _term_context(symbol: str, session_date: dt.date, open_ns: int, atm_iv_open: float) -> VolContext:
    """The simulated next-week expiry (docs/simulator.md, "Vol context"): session date + 7 calendar days,
    ATM IV = the day's opening 0DTE ATM IV x (1 + SIM_TERM_PREMIUM), in force from the open; no VIX."""
    return VolContext(underlying=symbol, ts_ns=open_ns,
                      term_expiry=session_date + dt.timedelta(days=TERM_TARGET_DAYS),
                      term_atm_iv=simulated_term_atm_iv(atm_iv_open), origin="simulated")


def release_free_memory() -> None:
    """Return freed heap pages to the OS after generating a session (glibc ``malloc_trim``): the
    generator's temporaries are large and would otherwise stay in the process's RSS."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


class CompactSession:
    """The events of a SimulatedSession in about half the memory, for a source that plays all day.

    Times become uint16 seconds + uint32 nanoseconds after the first event, prices int32 cents,
    contract indices and sizes uint16 -- each only when that is lossless for this session (checked), else the column is
    kept as generated. :meth:`batch` decodes a window back to the exact engine event arrays.
    """

    def __init__(self, symbol: str, chain: ChainDefinition, columns: dict[str, dict[str, np.ndarray]],
                 decoders: dict[str, dict[str, object]]) -> None:
        self.symbol, self.chain = symbol, chain
        self._cols, self._dec = columns, decoders

    @classmethod
    def of(cls, full: SimulatedSession) -> CompactSession:
        groups = {"spot": full.spot, "quotes": full.quotes, "trades": full.trades}
        t0 = min((int(g.ts_ns[0]) for g in groups.values() if len(g.ts_ns)), default=0)
        cols: dict[str, dict[str, np.ndarray]] = {}
        decs: dict[str, dict[str, object]] = {}
        for gname, g in groups.items():
            cols[gname], decs[gname] = {}, {}
            for f in g.__dataclass_fields__:
                arr = getattr(g, f)
                if f == "ts_ns":
                    rel = arr - t0
                    if len(arr) and rel.min() >= 0 and rel.max() // NS_PER_SECOND < 2**16:
                        # whole seconds (uint16) + nanoseconds within the second (uint32): 6 bytes, exact
                        cols[gname]["ts_ns"] = (rel // NS_PER_SECOND).astype(np.uint16)
                        cols[gname]["ts_sub"] = (rel % NS_PER_SECOND).astype(np.uint32)
                        decs[gname]["ts_ns"] = t0
                    else:
                        cols[gname]["ts_ns"], decs[gname]["ts_ns"] = arr, None
                    continue
                packed, dec = _pack(arr, f, t0)
                cols[gname][f], decs[gname][f] = packed, dec
        return cls(full.symbol, full.chain, cols, decs)

    @classmethod
    def from_plan(cls, plan: SessionPlan) -> CompactSession:
        """The compact events of ``plan`` generated block by block (:func:`iter_session_blocks`), each block
        packed as it comes: the same arrays as ``CompactSession.of(simulate_session(...))``, without the
        full-precision day in memory."""
        t0 = plan.open_ns
        spot = SpotTicks(plan.open_ns + np.arange(plan.n_seconds + 1, dtype=np.int64) * NS_PER_SECOND, plan.spot)
        packers = {"spot": _GroupPacker(t0), "quotes": _GroupPacker(t0), "trades": _GroupPacker(t0)}
        packers["spot"].add(spot)
        release_free_memory()  # the plan's temporaries
        for _, _, quotes, trades, _ in iter_session_blocks(plan):
            packers["quotes"].add(quotes)
            packers["trades"].add(trades)
            del quotes, trades
            release_free_memory()  # a block's temporaries, before the next block's
        cols, decs = {}, {}
        for gname, packer in packers.items():
            cols[gname], decs[gname] = packer.finish()
        return cls(plan.symbol, plan.chain, cols, decs)

    @classmethod
    def lazy(cls, plan: SessionPlan) -> CompactSession:
        """The compact events of ``plan`` generated block by block on demand: :meth:`batch` generates the
        blocks its window reaches (:meth:`generate_through` does so ahead of time). Each block is packed as
        :meth:`from_plan` packs it, so every window decodes to the same events; the plan is kept until its
        last block is generated (a few MB: the prints without prices, the spot and ATM vol per second)."""
        t0 = plan.open_ns
        spot = SpotTicks(plan.open_ns + np.arange(plan.n_seconds + 1, dtype=np.int64) * NS_PER_SECOND, plan.spot)
        packers = {"spot": _GroupPacker(t0), "quotes": _GroupPacker(t0), "trades": _GroupPacker(t0)}
        packers["spot"].add(spot)
        packers["quotes"].add(OptionQuotes())  # the generated dtypes of a group with no rows yet
        packers["trades"].add(OptionTrades())
        cols, decs = {}, {}
        for gname, packer in packers.items():
            cols[gname], decs[gname] = packer.finish()
        out = cls(plan.symbol, plan.chain, cols, decs)
        out._blocks = iter_session_blocks(plan)
        out._generated_ns = plan.open_ns  # every event before this time is generated
        out._open_ns, out._end_ns = plan.open_ns, plan.open_ns + plan.n_seconds * NS_PER_SECOND
        return out

    _blocks: Iterator | None = None
    _generated_ns: int | None = None  # None: the whole day is generated
    _open_ns: int = 0
    _end_ns: int = 0
    released_before_ns: int | None = None

    @property
    def generated_through_ns(self) -> int | None:
        """Every event before this time is generated (None: the whole day)."""
        return self._generated_ns

    def generate_through(self, t_ns: int) -> None:
        """Generate the blocks that hold events at or before ``t_ns`` (a no-op once they are): at 10:30 the
        blocks 09:30-10:00 and 10:00-10:30."""
        while self._generated_ns is not None and self._generated_ns < t_ns:
            self._next_block()

    def _next_block(self) -> None:
        assert self._blocks is not None
        _, b, quotes, trades, _ = next(self._blocks)
        for gname, group in (("quotes", quotes), ("trades", trades)):
            packer = _GroupPacker(self._open_ns)
            packer.add(group)
            cols, decs = packer.finish()
            self._cols[gname], self._dec[gname] = _join_packed(self._cols[gname], self._dec[gname], cols, decs)
        del quotes, trades
        # the events of block [a, b) seconds lie strictly inside (open + a s, open + b s): quote stamps and
        # prints are never on a whole second (sim_model._quote_block, _trade_plan)
        self._generated_ns = self._open_ns + b * NS_PER_SECOND
        if self._generated_ns >= self._end_ns:  # the last block: the plan is no longer needed
            self._blocks, self._generated_ns = None, None
        release_free_memory()  # a block's temporaries (and the plan, after the last block)

    def held_events(self) -> int:
        """Spot, quote and trade events still held (not released)."""
        return sum(len(cols["ts_ns"]) for cols in self._cols.values())

    def nbytes(self, groups: tuple[str, ...] = ("spot", "quotes", "trades")) -> int:
        """Bytes of the packed columns of ``groups`` still held."""
        return sum(a.nbytes for g in groups for a in self._cols[g].values())

    def release_before(self, t_ns: int, min_fraction: float = 0.25) -> None:
        """Free the events at or before ``t_ns`` once they are at least ``min_fraction`` of what is held
        (copying the rest), so memory shrinks through the day. A later window that reaches back
        before ``t_ns`` is incomplete: the source regenerates the session for a backward seek."""
        cut = {g: self._count_upto(g, t_ns) for g in ("spot", "quotes", "trades")}
        held = sum(len(self._cols[g]["ts_ns"]) for g in cut)
        if held == 0 or sum(cut.values()) < min_fraction * held:
            return
        for g, k in cut.items():
            self._cols[g] = {f: a[k:].copy() for f, a in self._cols[g].items()}
        self.released_before_ns = int(t_ns)
        release_free_memory()

    def _count_upto(self, gname: str, t_ns: int) -> int:
        ts, dec = self._cols[gname]["ts_ns"], self._dec[gname]["ts_ns"]
        if dec is None:
            return int(np.searchsorted(ts, t_ns, side="right"))
        return _count_at_or_before(ts, self._cols[gname]["ts_sub"], dec, t_ns)

    def batch(self, start_ns: int, end_ns: int) -> EventBatch:
        """The events in ``(start_ns, end_ns]``, decoded to the engine's dtypes (bit-identical)."""
        self.generate_through(end_ns)
        out = {}
        for gname in ("spot", "quotes", "trades"):
            lo, hi = self._count_upto(gname, start_ns), self._count_upto(gname, end_ns)
            dec = self._dec[gname]["ts_ns"]
            sl = slice(int(lo), int(hi))
            cols = self._cols[gname]
            out[gname] = {f: _unpack(a[sl], self._dec[gname][f]) for f, a in cols.items()
                          if f != "ts_sub" and not (f == "ts_ns" and dec is not None)}
            if dec is not None:
                out[gname]["ts_ns"] = dec + cols["ts_ns"][sl].astype(np.int64) * NS_PER_SECOND + cols["ts_sub"][sl]
        return EventBatch(self.symbol, int(start_ns), int(end_ns), SpotTicks(**out["spot"]),
                          OptionQuotes(**out["quotes"]), OptionTrades(**out["trades"]))


class _GroupPacker:
    """Packs the blocks of one event group (spot / quotes / trades) as :meth:`CompactSession.of` packs a
    whole day: a column stays packed while every block packs losslessly the same way; the first block
    that does not turns the column back to its generated dtype (earlier blocks decoded)."""

    _UNSET = object()

    def __init__(self, t0: int) -> None:
        self.t0 = t0
        self.parts: dict[str, list[np.ndarray]] = {}
        self.decs: dict[str, object] = {}
        self.empty: dict[str, np.ndarray] = {}

    def add(self, group) -> None:
        for f in group.__dataclass_fields__:
            arr = getattr(group, f)
            self.empty.setdefault(f, arr[:0])
            if len(arr) == 0:
                continue
            if f == "ts_ns":
                self._add_ts(arr)
                continue
            packed, dec = _pack(arr, f, self.t0)
            held = self.decs.get(f, self._UNSET)
            if held is self._UNSET:
                self.decs[f] = dec
            elif dec != held:
                if held is not None:  # an earlier block packed, this one cannot: back to the generated dtype
                    self.parts[f] = [_unpack(p, held) for p in self.parts[f]]
                    self.decs[f] = None
                packed = arr
            self.parts.setdefault(f, []).append(packed)

    def _add_ts(self, arr: np.ndarray) -> None:
        rel = arr - self.t0
        if rel.min() < 0 or rel.max() // NS_PER_SECOND >= 2**16:
            raise ValueError("a simulated event outside the session's 18 hours from its first event")
        self.parts.setdefault("ts_ns", []).append((rel // NS_PER_SECOND).astype(np.uint16))
        self.parts.setdefault("ts_sub", []).append((rel % NS_PER_SECOND).astype(np.uint32))
        self.decs["ts_ns"] = self.t0

    def finish(self) -> tuple[dict[str, np.ndarray], dict[str, object]]:
        cols: dict[str, np.ndarray] = {}
        decs: dict[str, object] = {}
        for f, empty in self.empty.items():
            if f not in self.parts:  # no rows at all: the generated (empty) column, as CompactSession.of
                cols[f], decs[f] = empty, None
                continue
            cols[f] = np.concatenate(self.parts.pop(f))
            decs[f] = self.decs[f]
            if f == "ts_ns":
                cols["ts_sub"] = np.concatenate(self.parts.pop("ts_sub"))
        return cols, decs


def _join_packed(held: dict[str, np.ndarray], held_dec: dict[str, object], new: dict[str, np.ndarray],
                 new_dec: dict[str, object]) -> tuple[dict[str, np.ndarray], dict[str, object]]:
    """One group's packed columns followed by a later block's: a column stays packed while both pack the same
    way, else both return to the generated dtype (the rule of :class:`_GroupPacker`). Times are packed against
    the same origin in both, so they always join."""
    if "ts_sub" not in new:  # the block has no rows in this group
        return held, held_dec
    if "ts_sub" not in held:  # no rows before: the block's columns as they are
        return dict(new), dict(new_dec)
    cols: dict[str, np.ndarray] = {}
    decs: dict[str, object] = {}
    for f, arr in new.items():
        a, da, db = held[f], held_dec.get(f), new_dec.get(f)
        if f in ("ts_ns", "ts_sub") or da == db:
            cols[f], decs[f] = np.concatenate((a, arr)), da if f != "ts_sub" else None
        else:
            cols[f], decs[f] = np.concatenate((_unpack(a, da), _unpack(arr, db))), None
    decs["ts_ns"] = held_dec["ts_ns"]
    decs.pop("ts_sub", None)
    return cols, decs


def _count_at_or_before(sec: np.ndarray, sub: np.ndarray, t0: int, x: int) -> int:
    """How many packed timestamps (sec, sub) are <= x (the arrays are time-sorted)."""
    rel = int(x) - t0
    if rel < 0:
        return 0
    s, n = divmod(rel, NS_PER_SECOND)
    if s >= 2**16:
        return len(sec)
    i = int(np.searchsorted(sec, s, side="left"))
    j = int(np.searchsorted(sec, s, side="right"))
    return i + int(np.searchsorted(sub[i:j], n, side="right"))


def _pack(arr: np.ndarray, field_name: str, t0: int):
    """(packed array, decoder) with decoder None when the column is kept as is."""
    if len(arr) == 0:
        return arr, None
    if arr.dtype == np.float64:
        cents = np.round(arr * 100.0)
        finite = np.isfinite(arr)
        if finite.all() and np.abs(cents).max() < 2**31 and np.array_equal(cents / 100.0, arr):
            return cents.astype(np.int32), "cents"
        return arr, None
    if arr.dtype.kind in "iu" and arr.min() >= 0 and arr.max() < 2**16:
        return arr.astype(np.uint16), arr.dtype
    return arr, None


def _unpack(a: np.ndarray, dec) -> np.ndarray:
    if dec is None:
        return a
    if dec == "cents":
        return a / 100.0
    return a.astype(dec)
