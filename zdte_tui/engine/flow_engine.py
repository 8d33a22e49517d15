"""FlowEngine: ingests event batches for one or more underlyings and answers point-in-time state.

State lives in one :class:`Book` per underlying (quotes, volumes, OI estimate, trade log, hedge
flow, sampler); every computation on it is a pure function from the other engine modules.
Nothing here does I/O or reads a wall clock: time is the event time.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from dataclasses import dataclass

import numpy as np

from zdte_tui.engine import classify, oi
from zdte_tui.engine import rows as rows_mod
from zdte_tui.engine.decision import pin_score_components, pin_score_one
from zdte_tui.engine.exposure import MULT, dealer_sign, max_pain
from zdte_tui.engine.greeks import SECONDS_PER_YEAR, bs_greeks, implied_vol, years_to_expiry
from zdte_tui.engine.params import EngineParams
from zdte_tui.engine.sampler import STRIKE_FLOW_KEYS, BarSampler
from zdte_tui.market.events import ChainDefinition, EventBatch, FeedStatus, SessionReset, VolContext

PRINT_BLOCK = 32_768  # prints classified and valued together (FlowEngine._ingest_prints)


class TradeLog:
    """Columnar log of classified prints, for the signals query: the columns it reads, 30 bytes a print.

    The log keeps only the prints a signal can be made of (:meth:`compact`): every leg of a sweep group
    with two or more legs, every block-sized print, and, per contract, a lone print that may still
    become a sweep's first leg; the others are dropped. With ``audit=True`` it keeps every print and
    also each one's venue and valuation (spot, delta, gamma, NBBO at the print; float32, 22 bytes
    more), for tests and the evaluation harness. Rows are in arrival order within a sweep group; a
    lone print waiting for a second leg sits after the final rows (docs/recording-format.md, "Memory
    of a replay")."""

    COLUMNS = {"ts_ns": np.int64, "contract": np.int32, "price": np.float64, "size": np.int32,
               "aggressor": np.int8, "side": np.int8, "group": np.int32}
    AUDIT_COLUMNS = {"exchange": np.int16, "spot": np.float32, "delta": np.float32, "gamma": np.float32,
                     "bid": np.float32, "ask": np.float32}

    COMPACT_ROWS = 65_536
    """Rows appended since the last :meth:`compact` after which the engine compacts again."""

    def __init__(self, capacity: int = 4096, audit: bool = False) -> None:
        self.n = 0
        self.appended = 0   # prints ever appended, dropped ones included (sweep group ids count them)
        self.audit = audit
        self.start = 0      # rows before ``start`` are final
        self.n_pending = 0  # rows [start, start + n_pending): lone prints that may still gain a leg
        self._frozen: dict[int, int] = {}  # rows -> prints appended, at each freeze (truncate's targets)
        columns = {**self.COLUMNS, **self.AUDIT_COLUMNS} if audit else self.COLUMNS
        self.cols = {k: np.empty(capacity, dtype=dt) for k, dt in columns.items()}

    def append(self, **arrays: np.ndarray) -> int:
        """Add rows (every column, as arrays of one length); returns the first new row's index."""
        first = self.reserve(len(arrays["ts_ns"]))
        self.fill(first, **arrays)
        return first

    def reserve(self, k: int) -> int:
        """Add ``k`` rows for the caller to :meth:`fill` (growing by half at least); returns the first."""
        first = self.n
        need = self.n + k
        cap = len(self.cols["ts_ns"])
        if need > cap:
            new_cap = max(need, cap + cap // 2)
            for name, arr in self.cols.items():
                grown = np.empty(new_cap, dtype=arr.dtype)
                grown[: self.n] = arr[: self.n]
                self.cols[name] = grown
        self.n = need
        self.appended += k
        return first

    def rows(self, name: str, first: int, k: int) -> np.ndarray | None:
        """A writable view of column ``name`` for rows ``first .. first + k - 1`` (reserved rows), None
        if this log does not keep the column."""
        col = self.cols.get(name)
        return None if col is None else col[first: first + k]

    def fill(self, first: int, **arrays: np.ndarray) -> None:
        """Write columns of rows ``first, first + 1, ...`` (reserved rows; cast to the column's dtype;
        columns this log does not keep are ignored)."""
        for name, arr in arrays.items():
            col = self.cols.get(name)
            if col is not None:
                col[first: first + len(arr)] = arr

    def unsettled(self) -> int:
        """Rows appended since the last :meth:`compact` or :meth:`freeze`."""
        return self.n - self.start - self.n_pending

    def compact(self, block_size: int, last_group: np.ndarray) -> None:
        """Drop the rows that can never be part of a signal (an audit log keeps every row).

        A signal is a sweep group with two or more legs or a block-sized print, counted in a look-back
        window; so a print is kept if its group has another leg (any window may hold both) or its size
        is at least ``block_size``. A lone, smaller print is kept while it is its contract's last print
        (``last_group[contract]``, the engine's per-contract sweep state) on a side: only then can a later
        print join its group. Otherwise no later print can, and it is dropped. Rows after ``start`` are
        decided: the kept ones stay in order, the still-lone ones go after them."""
        a, n, pend = self.start, self.n, self.n_pending
        if self.audit or n == a:
            return
        group, size = self.cols["group"][a:n], self.cols["size"][a:n]
        k = n - a - pend  # rows appended since; their ordinals are first_new + 0 .. k - 1
        first_new = self.appended - k
        new = group[pend:] - first_new  # a group begun since: its first leg's position among them
        keep = np.empty(n - a, dtype=bool)
        later_leg = keep[pend:]
        np.not_equal(new, np.arange(k, dtype=new.dtype), out=later_leg)  # not its group's first leg
        earlier = new < 0  # a later leg of a group begun before (a pending print's, or a final one's)
        first_legs = new[later_leg & ~earlier]
        later_leg[first_legs] = True  # the first leg of a group with a later leg
        keep[:pend] = np.isin(group[:pend], group[pend:][earlier])  # a pending print that gained a leg
        keep |= size >= block_size
        contract = self.cols["contract"][a:n]
        waiting = ~keep & (self.cols["side"][a:n] != 0) & (last_group[contract] == group)
        rows = np.concatenate([np.flatnonzero(keep), np.flatnonzero(waiting)]) + a
        for col in self.cols.values():
            col[a: a + len(rows)] = col[rows]
        self.start = a + int(keep.sum())
        self.n_pending = len(rows) - (self.start - a)
        self.n = a + len(rows)

    def freeze(self) -> int:
        """Make every row final (no later :meth:`compact` moves them) and return the row count: a seek
        checkpoint shares this log and may :meth:`truncate` it back to here."""
        self.start, self.n_pending = self.n, 0
        self._frozen[self.n] = self.appended
        return self.n

    def appended_at(self, n: int) -> int:
        """Prints appended when the log held ``n`` rows (now, or at a :meth:`freeze`)."""
        return self.appended if n == self.n else self._frozen[n]

    def truncate(self, n: int) -> None:
        """Back to ``n`` rows: the current count or one returned by :meth:`freeze`."""
        self.appended = self.appended_at(n)
        self.n = self.start = n
        self.n_pending = 0
        self._frozen = {k: v for k, v in self._frozen.items() if k <= n}

    def view(self, name: str) -> np.ndarray:
        return self.cols[name][: self.n]


@dataclass(frozen=True, eq=False)
class ChainState:
    """Immutable point-in-time view of one underlying's 0DTE chain (all arrays read-only).

    Per-contract arrays are indexed like the ChainDefinition; per-strike arrays like ``strike_grid``.
    Dollar exposures use the dealer position under the configured convention (``position``) on
    effective OI, with ``*_settled`` versions on settled OI side by side.
    """

    symbol: str
    expiry: dt.date
    as_of_ns: int
    open_ns: int
    close_ns: int
    spot: float
    prev_close: float | None
    open_spot: float | None
    t_years: float
    r: float
    q: float
    # per contract
    strikes: np.ndarray
    is_call: np.ndarray
    occ_symbols: tuple
    settled_oi: np.ndarray
    effective_oi: np.ndarray
    net_oi_delta: np.ndarray
    volume: np.ndarray
    bid: np.ndarray
    ask: np.ndarray
    mid: np.ndarray
    iv: np.ndarray
    delta: np.ndarray
    gamma: np.ndarray
    vega: np.ndarray
    theta: np.ndarray
    vanna: np.ndarray
    charm_per_hour: np.ndarray
    position: np.ndarray
    position_settled: np.ndarray
    bias: np.ndarray
    bias_confidence: np.ndarray
    # per strike
    strike_grid: np.ndarray
    strike_index: np.ndarray
    call_gex: np.ndarray
    put_gex: np.ndarray
    call_dex: np.ndarray
    put_dex: np.ndarray
    strike_vex: np.ndarray
    strike_chex: np.ndarray
    call_gex_settled: np.ndarray
    put_gex_settled: np.ndarray
    net_dex_settled: np.ndarray
    call_oi: np.ndarray
    put_oi: np.ndarray
    call_volume: np.ndarray
    put_volume: np.ndarray
    # totals and levels
    net_gex: float
    net_dex: float
    net_vex: float
    net_chex: float
    net_gex_settled: float
    net_theta_usd_per_day: float
    gamma_flip: float | None
    gamma_flip_status: str
    regime: str
    walls: rows_mod.Walls
    max_pain: float | None
    atm_strike: float | None
    atm_iv: float | None
    straddle: float | None
    hedge_flow_call_cumulative: float
    hedge_flow_put_cumulative: float
    contracts_with_flow: int
    total_abs_delta_contracts: int
    iv_coverage: float
    vol_context: VolContext | None = None   # latest term-structure event of this underlying, if any

    @property
    def time_to_close_hours(self) -> float:
        return max(0.0, (self.close_ns - self.as_of_ns) / 3600e9)

    @property
    def remaining_1sd_dollars(self) -> float | None:
        if self.atm_iv is None or not math.isfinite(self.spot):
            return None
        return float(self.spot * self.atm_iv * math.sqrt(self.t_years))


class MalformedEvent(ValueError):
    """An event the engine cannot use as given (bad input, not a bug): counted under ``reason`` in
    ``FlowEngine.malformed_by_reason`` and skipped."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class Book:
    """Mutable state of one underlying: what the engine has learned so far today."""

    # per contract (grown by _alloc when a redefinition appends contracts)
    bid: np.ndarray            # NBBO in force, $
    ask: np.ndarray
    volume: np.ndarray         # contracts traded today
    customer_net: np.ndarray   # sum(side * size): customers' net contracts bought
    net_oi_delta: np.ndarray   # expected change of open interest since the settled OI
    last_ts: np.ndarray        # last print's time, side and sweep group (sweeps span batches)
    last_side: np.ndarray
    last_group: np.ndarray
    delta_ref: np.ndarray      # greeks at the last sample: per-print deltas and re-hedging use them
    gamma_ref: np.ndarray
    charm_h_ref: np.ndarray
    iv_ref: np.ndarray
    iv_guess: np.ndarray       # vols of the last sample, smile-filled: the next sample's IV starts there
    # per strike (on strike_grid, the sorted unique strikes): cumulative signed flow of today's prints
    strike_grid: np.ndarray
    flow_delta_cum: np.ndarray    # delta-dollars
    flow_gamma_cum: np.ndarray    # gamma-dollars per 1% move
    flow_contracts_cum: np.ndarray

    def __init__(self, chain: ChainDefinition, open_ns: int, close_ns: int, params: EngineParams, *,
                 expiry_close_ns: int | None = None, audit_prints: bool = False) -> None:
        self.params = params
        self.symbol = chain.underlying.upper()
        self.open_ns, self.close_ns = int(open_ns), int(close_ns)  # the session valued
        # the expiry's close: greeks' time to expiry (after the session's close for a later expiry)
        self.expiry_close_ns = int(close_ns if expiry_close_ns is None else expiry_close_ns)
        self.chain = chain
        self.r = params.risk_free_rate
        self.q = params.q_for(self.symbol)
        self.block_size = params.block_size_for(self.symbol)
        self.spot = float("nan")
        self.spot_ts = 0
        self.open_spot: float | None = None
        self.clock_ns = 0  # observed up to here (end of the last batch)
        self.last_end_ns: int | None = None
        self.log = TradeLog(audit=audit_prints)
        self.net_premium = np.zeros(2)    # [calls, puts] cumulative net premium of prints since the open, $
        self.hedge_trade = np.zeros(2)    # [calls, puts] cumulative $ from hedging new trades
        self.hedge_rehedge = np.zeros(2)  # [calls, puts] cumulative $ from re-hedging the book
        self._cache: ChainState | None = None
        self.last_flip = float("nan")  # gamma flip of the last sample: where the next search starts
        self.gap_open_ns: int | None = None  # start of a feed gap still open
        self._alloc(chain)
        self.sampler = BarSampler(self.open_ns, self.close_ns, self.strike_grid, chain.n_contracts)

    # --- chain definition ------------------------------------------------------------------
    def _alloc(self, chain: ChainDefinition, old_n: int = 0) -> None:
        n = chain.n_contracts

        def grow(old: np.ndarray | None, fill: float, dtype: type) -> np.ndarray:
            """A new per-contract column of ``n`` values; the first ``old_n`` are kept from ``old``."""
            new: np.ndarray = np.full(n, fill, dtype=dtype)
            if old is not None:
                new[:old_n] = old[:old_n]
            return new

        keep = old_n > 0  # a redefinition: the columns exist and keep their first old_n values
        self.bid = grow(self.bid if keep else None, np.nan, np.float64)
        self.ask = grow(self.ask if keep else None, np.nan, np.float64)
        self.volume = grow(self.volume if keep else None, 0.0, np.float64)
        self.customer_net = grow(self.customer_net if keep else None, 0.0, np.float64)
        self.net_oi_delta = grow(self.net_oi_delta if keep else None, 0.0, np.float64)
        self.last_ts = grow(self.last_ts if keep else None, np.iinfo(np.int64).min // 2, np.int64)
        self.last_side = grow(self.last_side if keep else None, 0, np.int8)
        self.last_group = grow(self.last_group if keep else None, -1, np.int64)
        self.delta_ref = grow(self.delta_ref if keep else None, np.nan, np.float64)
        self.gamma_ref = grow(self.gamma_ref if keep else None, np.nan, np.float64)
        self.charm_h_ref = grow(self.charm_h_ref if keep else None, np.nan, np.float64)
        self.iv_ref = grow(self.iv_ref if keep else None, np.nan, np.float64)
        self.iv_guess = grow(self.iv_guess if keep else None, np.nan, np.float64)  # where the next IV solve starts
        self.chain = chain
        self.iv_time_ns = chain.iv_time_ns
        self.strikes = chain.strikes
        self.is_call = chain.is_call
        self.settled_oi = chain.settled_oi.astype(np.float64)
        self.settled_position = self._settled_position()  # per chain definition, not per sample
        self.position_sign = dealer_sign(chain.is_call, self.params.dealer_convention)  # static conventions
        old_grid = self.strike_grid if keep else None
        self.strike_grid = _readonly(np.unique(chain.strikes))
        self.strike_index = _readonly(np.searchsorted(self.strike_grid, chain.strikes))
        self.strike_side_key = self.strike_index * 2 + np.where(chain.is_call, 0, 1)

        def regrid(old: np.ndarray | None) -> np.ndarray:
            """A per-strike column on the new grid; an old column's values move to their strikes."""
            new = np.zeros(len(self.strike_grid))
            if old is not None and old_grid is not None:
                new[np.searchsorted(self.strike_grid, old_grid)] = old
            return new

        self.flow_delta_cum = regrid(self.flow_delta_cum if keep else None)
        self.flow_gamma_cum = regrid(self.flow_gamma_cum if keep else None)
        self.flow_contracts_cum = regrid(self.flow_contracts_cum if keep else None)
        self.side_index = np.where(chain.is_call, 0, 1)
        self._regroup_keys: dict[int, np.ndarray] = {}
        self.strike_sums = rows_mod.StrikeSums(self.strike_index, chain.is_call, len(self.strike_grid))
        self.layout = rows_mod.ChainLayout(chain.strikes, chain.is_call, self.strike_grid, self.strike_index)
        self.ref_spot = float("nan")
        self.ref_ns = 0
        self.side_matrix = np.stack([chain.is_call, ~chain.is_call], axis=1).astype(np.float64)  # [n, 2] one-hot

    def regroup_keys(self, n_rows: int) -> np.ndarray:
        """bincount keys summing ``n_rows`` rows of per-contract values, four times over, into
        ``[3, n_rows, strikes]`` (by strike) followed by ``[n_rows, 2]`` (calls, puts)."""
        keys = self._regroup_keys.get(n_rows)
        if keys is None:
            n_s = len(self.strike_grid)
            rows = np.arange(n_rows)[:, None]
            keys = np.concatenate([(m * n_rows * n_s + rows * n_s + self.strike_index[None, :]).ravel()
                                   for m in range(3)]
                                  + [(3 * n_rows * n_s + rows * 2 + self.side_index[None, :]).ravel()])
            if len(self._regroup_keys) > 8:
                self._regroup_keys.clear()
            self._regroup_keys[n_rows] = keys
        return keys

    def redefine(self, chain: ChainDefinition) -> None:
        """Accept an extended definition (earlier indices kept, new contracts appended)."""
        old_n = self.chain.n_contracts
        if chain.n_contracts < old_n or not np.array_equal(chain.strikes[:old_n], self.strikes[:old_n]):
            raise MalformedEvent("redefinition_not_append_only",
                                 "a redefinition must keep earlier contracts and only append")
        self._alloc(chain, old_n)
        if len(self.strike_grid) != len(self.sampler.strike_grid):
            self.sampler.regrid(self.strike_grid)
        self.sampler.resize_contracts(chain.n_contracts)
        self._cache = None

    def compact_log(self, force: bool = False) -> None:
        """Drop the prints no signal can use (:meth:`TradeLog.compact`) once enough have arrived."""
        if force or self.log.unsettled() >= self.log.COMPACT_ROWS:
            self.log.compact(self.block_size, self.last_group)

    def set_reference(self, g, k: int, t_ns: int, spot: float) -> None:
        """Greeks at the last sample (row ``k`` of GreekRows): per-print deltas and re-hedging use them.
        Rows of the sample's own arrays (nothing writes into them afterwards), not copies."""
        self.delta_ref, self.gamma_ref = g.delta[k], g.gamma[k]
        self.charm_h_ref, self.iv_ref = g.charm_per_hour[k], g.iv[k]
        self.iv_guess = g.iv_filled[k]
        self.ref_spot, self.ref_ns = float(spot), int(t_ns)

    # --- positions ------------------------------------------------------------------------
    def effective_oi(self) -> np.ndarray:
        return oi.effective_oi(self.settled_oi, self.net_oi_delta)

    def positions(self) -> tuple[np.ndarray, np.ndarray]:
        """Dealer positions (contracts, signed) on effective OI and on settled OI."""
        return self.positions_for(self.effective_oi(), self.customer_net), self.settled_position

    def _settled_position(self) -> np.ndarray:
        """Dealer positions on settled OI (read-only; fixed per chain definition)."""
        conv = self.params.dealer_convention
        settled_sign = dealer_sign(self.is_call, "long_calls_short_puts" if conv == "customer_flow" else conv)
        return _readonly(settled_sign * self.settled_oi)

    def positions_for(self, eff: np.ndarray, customer_net: np.ndarray) -> np.ndarray:
        """Dealer positions from effective OI and customers' net contracts bought (any leading shape):
        a static convention signs effective OI; ``customer_flow`` starts from the default convention on
        settled OI and gives dealers the other side of every classified print."""
        conv = self.params.dealer_convention
        if conv == "customer_flow":
            return dealer_sign(self.is_call, "long_calls_short_puts") * self.settled_oi - customer_net
        return self.position_sign * eff

    def session_fraction(self, ts_ns: np.ndarray) -> np.ndarray:
        return (ts_ns - self.open_ns) / max(1, self.close_ns - self.open_ns)


@dataclass(frozen=True, eq=False)
class _SliceReferences:
    """What each slice of a batch values its prints with: row 0 is the book's reference (the last
    sample before the batch), row j the greeks at boundary j-1; plus the boundaries' own spot and greeks.
    The stacked ``[m + 1, contracts]`` tables are built on first use (prints need them, samples only
    the rows before each boundary)."""

    boundary_spot: np.ndarray      # [m] spot in force at each boundary
    greeks: rows_mod.GreekRows     # [m, contracts] greeks at each boundary
    bounds: np.ndarray             # [m] the boundaries (ns)
    t: np.ndarray                  # [m] greeks' time to expiry at each boundary (years)
    book_delta: np.ndarray         # [contracts] the book's reference (row 0)
    book_gamma: np.ndarray
    book_charm_per_hour: np.ndarray
    book_spot: float
    book_ns: int

    @functools.cached_property
    def delta(self) -> np.ndarray:
        """[m + 1, contracts]"""
        return np.concatenate((self.book_delta[None, :], self.greeks.delta))

    @functools.cached_property
    def gamma(self) -> np.ndarray:
        return np.concatenate((self.book_gamma[None, :], self.greeks.gamma))

    @functools.cached_property
    def charm_per_hour(self) -> np.ndarray:
        return np.concatenate((self.book_charm_per_hour[None, :], self.greeks.charm_per_hour))

    @functools.cached_property
    def spot(self) -> np.ndarray:
        """[m + 1] spot of each reference"""
        return np.concatenate(([self.book_spot], self.boundary_spot))

    @functools.cached_property
    def time_ns(self) -> np.ndarray:
        """[m + 1] time of each reference"""
        return np.concatenate(([self.book_ns], self.bounds))


@dataclass(frozen=True, eq=False)
class _ValuationTables:
    """What prints are valued from, per (reference, contract) flattened: greeks with NaN as 0, the
    reference spots, and where no sample has valued the contract yet (None: everywhere valued)."""

    delta: np.ndarray
    gamma: np.ndarray
    spot: np.ndarray
    unvalued: np.ndarray | None

    @classmethod
    def of(cls, book: Book, refs: _SliceReferences | None) -> _ValuationTables:
        if refs is not None:
            ref_delta, ref_gamma, spot = refs.delta, refs.gamma, refs.spot
        else:
            ref_delta, ref_gamma, spot = book.delta_ref[None, :], book.gamma_ref[None, :], np.array([book.ref_spot])
        unvalued = ~np.isfinite(ref_delta)
        return cls(delta=np.where(np.isfinite(ref_delta), ref_delta, 0.0).ravel(),
                   gamma=np.where(np.isfinite(ref_gamma), ref_gamma, 0.0).ravel(), spot=spot,
                   unvalued=unvalued.ravel() if unvalued.any() else None)


@dataclass(frozen=True, eq=False)
class _SliceFlows:
    """A batch's prints summed per slice (row j = slice j, ending at boundary j)."""

    volume: np.ndarray                  # [m + 1, contracts] contracts traded
    customer_net: np.ndarray            # [m + 1, contracts] side * size
    oi_change: np.ndarray               # [prints] expected open-interest change of each print
    strike_flow: dict[str, np.ndarray]  # STRIKE_FLOW_KEYS -> [m + 1, strikes]
    hedge: np.ndarray                   # [m + 1, 2] delta-dollars of new prints, calls and puts
    premium: np.ndarray                 # [m + 1, 2] net premium of prints since the open, calls and puts


class FlowEngine:
    """Ingests events for several underlyings; answers point-in-time :class:`ChainState`."""

    # a batch crossing one boundary records it by the one-row path (numbers, docs/model.md section 14);
    # False sends it through the vectorized rows instead (the tests compare the two, bit for bit)
    one_row_sample: bool = True

    def __init__(self, params: EngineParams | None = None, session_bounds=None, *, audit_prints: bool = False) -> None:
        """``session_bounds(expiry_date) -> (open_ns, close_ns)`` gives the session of an expiry;
        ``audit_prints``: the trade logs also keep each print's venue and valuation (:class:`TradeLog`)."""
        self.params = params or EngineParams()
        self.audit_prints = audit_prints
        self._session_bounds = session_bounds
        self.books: dict[str, Book] = {}
        self.malformed_count = 0
        self.malformed_by_reason: dict[str, int] = {}
        self.errors: list[str] = []
        self.data_as_of: dict[str, int] = {}
        self.vol_context: dict[str, VolContext] = {}   # latest VolContext per underlying
        self.clock_ns = 0

    # --- ingest --------------------------------------------------------------------------
    def apply(self, event) -> None:
        """Apply any event. Malformed input (:class:`MalformedEvent`, an unknown event type) is
        counted in ``malformed_by_reason`` and skipped, never raised; any other exception is a bug
        and propagates (the service logs it and reports it as an internal error)."""
        try:
            if isinstance(event, EventBatch):
                self.ingest(event)
            elif isinstance(event, ChainDefinition):
                self.define(event)
            elif isinstance(event, FeedStatus):
                self._status(event)
            elif isinstance(event, VolContext):
                sym = event.underlying.upper()
                self.vol_context[sym] = event
                if sym in self.books:
                    self.books[sym]._cache = None
            elif isinstance(event, SessionReset):
                self.reset()
            else:
                self._malformed("unknown_event_type")
        except MalformedEvent as exc:
            self._malformed(exc.reason)

    def reset(self) -> None:
        self.books.clear()
        self.clock_ns = 0
        self.data_as_of.clear()
        self.vol_context.clear()

    def _malformed(self, reason: str, count: int = 1) -> None:
        self.malformed_count += count
        self.malformed_by_reason[reason] = self.malformed_by_reason.get(reason, 0) + count

    def _status(self, ev: FeedStatus) -> None:
        if ev.kind == "malformed":
            self._malformed(f"feed:{ev.feed or 'unknown'}", max(1, ev.count))
        elif ev.kind == "error":
            self.errors.append(ev.message)
            del self.errors[:-20]
        elif ev.kind == "delivered" and ev.feed:
            self.data_as_of[ev.feed] = max(self.data_as_of.get(ev.feed, 0), int(ev.ts_ns))
        elif ev.kind in ("gap_start", "gap_end") and ev.underlying:
            book = self.books.get(ev.underlying.upper())
            if book is not None:
                if ev.kind == "gap_start":
                    book.gap_open_ns = int(ev.ts_ns)
                elif book.gap_open_ns is not None:
                    book.sampler.add_gap(book.gap_open_ns, int(ev.ts_ns))
                    book.gap_open_ns = None

    def define(self, chain: ChainDefinition) -> None:
        sym = chain.underlying.upper()
        if sym in self.books:
            self.books[sym].redefine(chain)
            return
        if self._session_bounds is None:
            raise ValueError("FlowEngine needs session_bounds to place a new expiry")
        open_ns, close_ns = self._session_bounds(chain.session_date or chain.expiry)
        expiry_close_ns = self._session_bounds(chain.expiry)[1] if chain.session_date else close_ns
        self.books[sym] = Book(chain, open_ns, close_ns, self.params, expiry_close_ns=expiry_close_ns,
                               audit_prints=self.audit_prints)

    def ingest(self, batch: EventBatch) -> None:
        """Classify and aggregate one batch; sample bars at every 30 s boundary it crosses."""
        book = self.books.get(batch.underlying.upper())
        if book is None:
            self._malformed("batch_before_definition", len(batch.trades) + len(batch.quotes) + len(batch.spot))
            return
        if book.last_end_ns is not None and batch.start_ns > book.last_end_ns:
            book.sampler.add_gap(book.last_end_ns, batch.start_ns)
        spot, quotes, trades = self._validated(book, batch)
        since = book.clock_ns if book.clock_ns else batch.start_ns - 1
        bounds = book.sampler.boundaries_in(since, batch.end_ns)
        self._ingest_vectorized(book, bounds, spot, quotes, trades)
        book.compact_log()
        book.clock_ns = max(book.clock_ns, int(batch.end_ns))
        book.last_end_ns = int(batch.end_ns)
        self.clock_ns = max(self.clock_ns, int(batch.end_ns))
        book._cache = None
        if len(trades[0]) or len(quotes[0]):
            self.data_as_of["equity_options_feed"] = max(self.data_as_of.get("equity_options_feed", 0), batch.end_ns)
        if len(spot[0]):
            self.data_as_of["equity_feed"] = max(self.data_as_of.get("equity_feed", 0), batch.end_ns)

    def _validated(self, book: Book, batch: EventBatch):
        """Columns of the batch with malformed rows dropped (and counted); no copies when all are fine."""
        n = book.chain.n_contracts

        def keep(ok, arrays, reason):
            if ok is True or ok.all():
                return arrays
            self._malformed(reason, int((~ok).sum()))
            return tuple(a[ok] for a in arrays)

        def in_chain(c: np.ndarray) -> bool:
            return not len(c) or (int(c.min()) >= 0 and int(c.max()) < n)

        s, q, t = batch.spot, batch.quotes, batch.trades
        # (min and max first, a few reductions when every row is fine: NaN fails every comparison, so
        # only a batch with a bad row builds masks)
        spot_ok = (not len(s.price) or (s.price.min() > 0 and s.price.max() < math.inf)
                   or np.isfinite(s.price) & (s.price > 0))
        spot = keep(spot_ok, (s.ts_ns, s.price), "bad_spot")
        quotes_ok = in_chain(q.contract) or (q.contract >= 0) & (q.contract < n)
        quotes = keep(quotes_ok, (q.ts_ns, q.contract, q.bid, q.ask), "quote_unknown_contract")
        trades_ok = ((in_chain(t.contract) and (not len(t.price) or (t.price.min() >= 0 and t.price.max() < math.inf
                                                                     and t.size.min() > 0)))
                     or (t.contract >= 0) & (t.contract < n) & np.isfinite(t.price) & (t.price >= 0) & (t.size > 0))
        trades = keep(trades_ok, (t.ts_ns, t.contract, t.price, t.size, t.exchange), "bad_trade")
        for arr in (spot[0], quotes[0], trades[0]):
            if len(arr) > 1 and (arr[1:] < arr[:-1]).any():
                raise MalformedEvent("unsorted_batch", "batch arrays must be sorted by ts_ns")
        return spot, quotes, trades

    def _ingest_vectorized(self, book: Book, bounds: np.ndarray, spot, quotes, trades) -> None:
        """One pass over a whole batch, however many 30 s boundaries it spans.

        Slice j of the batch is (b_{j-1}, b_j] (slice 0 starts at the batch start, slice m ends at its
        end). A print in slice j is valued with the greeks of the previous sample (the book's reference
        for j = 0, boundary j-1 otherwise), first-order corrected for the spot move. Per-slice sums are
        one bincount on (slice, contract) keys; state at each boundary is their running sum, with the
        effective-OI floor applied print by print (a Lindley recursion, docs/model.md). The steps:
        :meth:`_slice_references` (greeks at the boundaries), :meth:`_ingest_prints` (classify, value
        and log the prints; per-slice sums), :meth:`_advance_book` (running state, 30 s samples and
        re-hedging at the boundaries, the book at the batch end), :meth:`_keep_last_quotes_and_spot`.
        """
        trade_ts = trades[0]
        # the quotes by (contract, time) and each quoted contract's last quote: only for the boundaries'
        # greeks or a batch without prints (the print path sorts its blocks' quotes and keeps the NBBO)
        quote_sort = quote_last = None
        if len(quotes[0]) and (len(bounds) or not len(trade_ts)):
            quote_sort = classify.contract_sort(quotes[1], quotes[0], time_sorted=True)  # (checked by _validated)
            ends = _run_ends(quote_sort[1])
            quote_last = quote_sort[1][ends], quote_sort[0][ends]
        refs = self._slice_references(book, bounds, spot, quotes, quote_sort, quote_last)
        flows = None  # no prints: nothing to sort, slice, value or log
        trade_slice = _NO_ROWS
        if len(trade_ts):
            trade_slice = (np.searchsorted(bounds, trade_ts, side="left") if len(bounds)
                           else np.zeros(len(trade_ts), dtype=np.int64))
            flows = self._ingest_prints(book, len(bounds) + 1, refs, trade_slice, spot, quotes, quote_sort,
                                        quote_last, trades)
        self._advance_book(book, bounds, refs, flows, trade_slice, trades)
        # (the print path has moved the book's NBBO to the batch's last quotes already)
        self._keep_last_quotes_and_spot(book, spot, quotes, quote_last if flows is None else None)

    def _slice_references(self, book: Book, bounds: np.ndarray, spot, quotes,
                          quote_sort: tuple[np.ndarray, np.ndarray] | None,
                          quote_last: tuple[np.ndarray, np.ndarray] | None) -> _SliceReferences | None:
        """The greeks each slice values its prints with (None when the batch crosses no boundary).
        ``quote_sort``/``quote_last``: the batch's quotes by (contract, time) and each quoted contract's
        last quote (None: the batch has no quotes)."""
        if not len(bounds):
            return None
        boundary_spot, t, greeks = self._boundary_greeks(book, bounds, spot, quotes,
                                                         None if quote_sort is None else quote_sort[0], quote_last)
        return _SliceReferences(boundary_spot=boundary_spot, greeks=greeks, bounds=bounds, t=t,
                                book_delta=book.delta_ref, book_gamma=book.gamma_ref,
                                book_charm_per_hour=book.charm_h_ref, book_spot=book.ref_spot, book_ns=book.ref_ns)

    def _ingest_prints(self, book: Book, n_rows: int, refs: _SliceReferences | None, trade_slice: np.ndarray,
                       spot, quotes, quote_sort: tuple[np.ndarray, np.ndarray] | None,
                       quote_last: tuple[np.ndarray, np.ndarray] | None, trades) -> _SliceFlows:
        """Classify the batch's prints (at least one) against the NBBO in force, group sweeps, value each print's
        delta and gamma, append them to the trade log, and sum them per slice (``n_rows`` slices).

        The prints go in blocks of at most ``PRINT_BLOCK`` consecutive prints, each with the quotes up
        to its last print's time, as if the batch had been cut there: the NBBO in force (the book's,
        moved to each block's last quotes; nothing after the print path reads it before the batch
        end) and each contract's last print (sweeps) carry from block to block as between batches, so
        every print's NBBO, side, aggressor, group, delta and gamma are those of the whole batch at
        once, while each block's sorts, searches and temporaries stay in cache and reuse one
        another's memory. Each block is written straight into the trade log's new rows; per-print
        sums go per (slice, contract), block by block, then to strikes and calls/puts (small arrays).
        ``quote_sort``/``quote_last``: the batch's quotes by (contract, time) and each quoted contract's
        last quote, if the caller has them (a batch that crosses a boundary); a batch of one block
        then sorts no quotes of its own."""
        p = self.params
        n_contracts, n_strikes = book.chain.n_contracts, len(book.strike_grid)
        trade_ts, contract, price, size_contracts, exchange = trades
        n = len(trade_ts)
        quote_ts, quote_contract, quote_bid, quote_ask = quotes
        n_q = len(quote_ts)
        blocks = [(0, n, 0, n_q)]
        if n > PRINT_BLOCK:  # block j's quotes: those up to its last print's time (equal times: quotes first)
            cuts = list(range(0, n, PRINT_BLOCK)) + [n]
            q_cuts = [0, *np.searchsorted(quote_ts, trade_ts[np.array(cuts[1:-1]) - 1], side="right").tolist(), n_q]
            blocks = list(zip(cuts[:-1], cuts[1:], q_cuts[:-1], q_cuts[1:]))
        window_ns = int(p.sweep_window_ms * 1e6)
        tables = _ValuationTables.of(book, refs)
        log = book.log
        ordinal = log.appended  # the batch's first print's ordinal: sweep group ids count every print
        first = log.reserve(n)
        log.fill(first, ts_ns=trade_ts, contract=contract, price=price, size=size_contracts, exchange=exchange)
        oi_change = np.empty(n)
        m = n_rows * n_contracts
        sums = np.empty((4, m))  # per (slice, contract): volume, customer net, delta $, gamma $
        premium = np.zeros((n_rows, 2))  # net premium per slice, calls and puts
        for a, b, qa, qb in blocks:
            c, ts = contract[a:b], trade_ts[a:b]
            t_order, t_cs = classify.contract_sort(c, ts, time_sorted=True)
            ts_sorted = ts.take(t_order)
            if qb > qa:
                whole = qb - qa == n_q  # (the block's quotes are the batch's)
                q_sort = (quote_sort if whole and quote_sort is not None else
                          classify.contract_sort(quote_contract[qa:qb], quote_ts[qa:qb], time_sorted=True))
                src, prior = classify.asof_index(ts, c, quote_ts[qa:qb], quote_contract[qa:qb], quote_sort=q_sort,
                                                 trade_sort=(t_order, t_cs), trade_ts_sorted=ts_sorted,
                                                 time_sorted=True)
                bid, ask = quote_bid[qa:qb].take(src), quote_ask[qa:qb].take(src)
                if len(prior):  # no quote of the contract since the block's start: the NBBO carried in
                    c_prior = c.take(prior)
                    bid[prior] = book.bid.take(c_prior)
                    ask[prior] = book.ask.take(c_prior)
                # the book's NBBO moves to each contract's last quote of the block
                if whole and quote_last is not None:
                    last_contracts, last_quote = quote_last
                else:
                    ends = _run_ends(q_sort[1])
                    last_contracts, last_quote = q_sort[1][ends], q_sort[0][ends] + qa
                book.bid[last_contracts] = quote_bid.take(last_quote)
                book.ask[last_contracts] = quote_ask.take(last_quote)
            else:
                bid, ask = book.bid.take(c), book.ask.take(c)
            aggr, sd = classify.aggressor_and_side(price[a:b], bid, ask)
            spot_at_print = self._spot_at(book, spot, ts)
            key = c.astype(np.intp)  # (slice, contract): the valuation tables' row and the sums' bin
            if n_rows > 1:
                key += trade_slice[a:b] * n_contracts
            delta, gamma = self._print_delta_gamma(book, tables, trade_slice[a:b] if refs is not None else None,
                                                   ts, c, key, spot_at_print, bid, ask)
            size = size_contracts[a:b].astype(np.float64)
            signed = sd * size
            spot_used = spot_at_print if np.isfinite(spot_at_print).all() else np.nan_to_num(
                spot_at_print, nan=0.0, posinf=0.0, neginf=0.0)
            # (a) hedge flow from new prints = strike signed delta-dollars: side * n * 100 * delta * S
            delta_dollars = delta * MULT
            delta_dollars *= spot_used
            delta_dollars *= signed
            gamma_dollars = gamma * (MULT * 0.01)
            gamma_dollars *= spot_used
            gamma_dollars *= spot_used
            gamma_dollars *= signed
            p_open = oi.open_probability(book.session_fraction(ts), aggr, p_open_at_open=p.open_prob_open,
                                         p_open_at_close=p.open_prob_close,
                                         aggressor_boost=p.open_prob_aggressor_boost,
                                         mid_shrink=p.open_prob_mid_shrink)
            oi_change[a:b] = oi.expected_oi_change(size, p_open)
            for row, weights in enumerate((size, signed, delta_dollars, gamma_dollars)):
                if a:
                    sums[row] += np.bincount(key, weights=weights, minlength=m)
                else:
                    sums[row] = np.bincount(key, weights=weights, minlength=m)
            block_premium = self._net_premium(book, n_rows, trade_slice[a:b], ts, c, price[a:b], size, sd)
            if a:
                premium += block_premium
            else:
                premium = block_premium  # (one block: the bits of one bincount)
            group_rows = log.rows("group", first + a, b - a)
            group = classify.sweep_group_ids(ts_sorted, t_cs, sd, window_ns, book.last_ts, book.last_side,
                                             book.last_group, ordinal + a, t_order, out=group_rows)
            log.fill(first + a, aggressor=aggr, side=sd, spot=spot_at_print, delta=delta, gamma=gamma, bid=bid,
                     ask=ask, **({} if group is group_rows else {"group": group}))
            last_print = t_order[_run_ends(t_cs)]  # each contract's last print: later sweeps continue from it
            last_contracts = c[last_print]
            book.last_ts[last_contracts] = ts[last_print]
            book.last_side[last_contracts] = sd[last_print]
            book.last_group[last_contracts] = group[last_print]
        volume, customer_net, delta_by_contract, gamma_by_contract = sums.reshape(4, n_rows, n_contracts)
        # per (slice, contract) -> per (slice, strike) for three flows and per (slice, call/put) for the
        # hedge: one bincount over keys fixed by the chain (cached per number of slices)
        regroup_keys = book.regroup_keys(n_rows)
        strike_sums = np.bincount(regroup_keys, minlength=n_rows * (3 * n_strikes + 2), weights=np.concatenate(
            [delta_by_contract.ravel(), gamma_by_contract.ravel(), customer_net.ravel(), delta_by_contract.ravel()]))
        per_strike = strike_sums[: 3 * n_rows * n_strikes].reshape(3, n_rows, n_strikes)
        return _SliceFlows(
            volume=volume, customer_net=customer_net, oi_change=oi_change,
            strike_flow={"flow_delta_cum": per_strike[0], "flow_gamma_cum": per_strike[1],
                         "flow_contracts_cum": per_strike[2]},
            hedge=strike_sums[3 * n_rows * n_strikes:].reshape(n_rows, 2), premium=premium)

    @staticmethod
    def _net_premium(book: Book, n_rows: int, trade_slice: np.ndarray, trade_ts: np.ndarray, contract: np.ndarray,
                     price: np.ndarray, size: np.ndarray, side: np.ndarray) -> np.ndarray:
        """[n_rows, 2] net premium per slice, calls and puts: ``side * price * size * 100`` summed over
        the prints stamped at or after the open (the series' net-premium tide, accumulated at ingest
        so that no query scans the prints; docs/api.md)."""
        premium = side * price
        premium *= size
        premium *= MULT
        premium[trade_ts < book.open_ns] = 0.0
        keys = trade_slice * 2
        keys += book.side_index.take(contract)
        return np.bincount(keys, weights=premium, minlength=2 * n_rows).reshape(n_rows, 2)

    @staticmethod
    def _spot_at(book: Book, spot, ts: np.ndarray) -> np.ndarray:
        """The last spot print at or before each time (the book's spot before the batch's first)."""
        spot_ts, spot_px = spot
        if not len(spot_ts):
            return np.full(len(ts), book.spot)
        return np.concatenate(([book.spot], spot_px)).take(np.searchsorted(spot_ts, ts, side="right"))

    def _print_delta_gamma(self, book: Book, tables: _ValuationTables, trade_slice: np.ndarray | None,
                           trade_ts: np.ndarray, contract: np.ndarray, key: np.ndarray, spot_at_print: np.ndarray,
                           bid: np.ndarray, ask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each print's delta (the reference delta moved by gamma times the spot move since the
        reference, clipped to [-1, 1]) and gamma; 0 where the contract has no greeks. ``key`` is
        ``slice * n_contracts + contract`` (``trade_slice`` None: one reference, key = contract)."""
        spot0: np.ndarray | float
        spot0 = tables.spot.take(trade_slice) if trade_slice is not None else book.ref_spot
        delta = tables.delta.take(key)
        gamma = tables.gamma.take(key)
        if tables.unvalued is not None:  # no sample has valued these contracts yet: greeks at the print's own NBBO
            missing = tables.unvalued.take(key) & np.isfinite(spot_at_print)
            if missing.any():
                d_own, g_own = self._print_greeks(book, trade_ts[missing], contract[missing], spot_at_print[missing],
                                                  bid[missing], ask[missing])
                delta[missing] = np.where(np.isfinite(d_own), d_own, 0.0)
                gamma[missing] = np.where(np.isfinite(g_own), g_own, 0.0)
                spot0 = np.broadcast_to(spot0, len(trade_ts)).copy()
                spot0[missing] = spot_at_print[missing]
        move = spot_at_print - spot0
        if not np.isfinite(move).all():
            move[~np.isfinite(move)] = 0.0
        move *= gamma
        delta += move
        return np.clip(delta, -1.0, 1.0, out=delta), gamma

    def _advance_book(self, book: Book, bounds: np.ndarray, refs: _SliceReferences | None,
                      flows: _SliceFlows | None, trade_slice: np.ndarray, trades) -> None:
        """State after each slice (rows 0..m): running sums, the OI floored slice by slice; sample
        every boundary, then keep the state at the batch end. ``flows`` None: the batch has no prints."""
        if flows is None:  # every slice ends where the book stands: read-only views, nothing to sum
            oi_now = book.settled_oi + book.net_oi_delta
            if refs is not None:
                shape = (len(bounds) + 1,)

                def rows(a: np.ndarray) -> np.ndarray:
                    return a[None] if len(bounds) == 1 else np.broadcast_to(a, shape + a.shape)

                flow_rows = {k: rows(getattr(book, k)) for k in STRIKE_FLOW_KEYS}
                flow_rows["net_premium"] = rows(book.net_premium)
                self._sample_boundaries(book, bounds, refs, rows(oi_now), rows(book.customer_net), flow_rows,
                                        rows(book.hedge_trade))
            book.net_oi_delta = oi_now - book.settled_oi  # as the running sums of no prints leave it
            return
        trade_ts, contract = trades[0], trades[1]
        n_rows = len(flows.hedge)
        volume_rows = book.volume + np.cumsum(flows.volume, axis=0)
        customer_rows = book.customer_net + np.cumsum(flows.customer_net, axis=0)
        oi_rows = oi.floored_oi_path(book.settled_oi + book.net_oi_delta, contract, trade_ts, trade_slice,
                                     flows.oi_change, n_rows)  # (sorts the prints only where the floor may bind)
        flow_rows = {"flow_delta_cum": book.flow_delta_cum + np.cumsum(flows.strike_flow["flow_delta_cum"], axis=0),
                     "flow_gamma_cum": book.flow_gamma_cum + np.cumsum(flows.strike_flow["flow_gamma_cum"], axis=0),
                     "flow_contracts_cum": (book.flow_contracts_cum
                                            + np.cumsum(flows.strike_flow["flow_contracts_cum"], axis=0)),
                     "net_premium": book.net_premium + np.cumsum(flows.premium, axis=0)}  # [rows, 2]
        trade_hedge_rows = book.hedge_trade + np.cumsum(flows.hedge, axis=0)
        if refs is not None:
            self._sample_boundaries(book, bounds, refs, oi_rows, customer_rows, flow_rows, trade_hedge_rows)
        book.volume, book.customer_net = volume_rows[-1].copy(), customer_rows[-1].copy()
        book.net_oi_delta = oi_rows[-1] - book.settled_oi
        book.flow_delta_cum = flow_rows["flow_delta_cum"][-1].copy()
        book.flow_gamma_cum = flow_rows["flow_gamma_cum"][-1].copy()
        book.flow_contracts_cum = flow_rows["flow_contracts_cum"][-1].copy()
        book.hedge_trade = trade_hedge_rows[-1].copy()
        book.net_premium = flow_rows["net_premium"][-1].copy()

    def _sample_boundaries(self, book: Book, bounds: np.ndarray, refs: _SliceReferences, oi_rows: np.ndarray,
                           customer_rows: np.ndarray, flow_rows: dict[str, np.ndarray],
                           trade_hedge_rows: np.ndarray) -> None:
        """Dealer positions and (b) re-hedging of the book at each boundary since the previous
        reference; record the samples; the last priced boundary becomes the new reference."""
        m = len(bounds)
        effective_oi = np.maximum(oi_rows[:m], 0.0)
        positions = book.positions_for(effective_oi, customer_rows[:m])
        if m == 1 and self.one_row_sample:  # one boundary (a live sample): the book's reference, numbers
            self._sample_one(book, int(bounds[0]), refs, positions, effective_oi, flow_rows, trade_hedge_rows)
            return
        spot_move = _finite_or_zero(refs.boundary_spot - refs.spot[:m])
        hours = (bounds - refs.time_ns[:m]) / 3600e9
        # -delta change * spot, per contract: -(gamma * move + charm/h * hours) * position * 100 * S
        change = _finite_or_zero(refs.gamma[:m]) * spot_move[:, None]
        change += _finite_or_zero(refs.charm_per_hour[:m]) * hours[:, None]
        change *= positions
        rehedge_by_side = change @ book.side_matrix  # [m, 2]: calls, puts
        rehedge_by_side *= (-MULT * _finite_or_zero(refs.boundary_spot))[:, None]
        rehedge_by_side[~np.isfinite(refs.boundary_spot) | ~np.isfinite(refs.spot[:m])] = 0.0
        rehedge_rows = book.hedge_rehedge + np.cumsum(rehedge_by_side, axis=0)
        hedge_rows = trade_hedge_rows[:m] + rehedge_rows
        book.hedge_rehedge = rehedge_rows[-1].copy()
        priced = np.isfinite(refs.boundary_spot)
        positions[~priced] = np.nan
        self._record_rows(book, bounds, refs.boundary_spot, refs.greeks, positions, effective_oi,
                          {k: v[:m] for k, v in flow_rows.items()}, hedge_rows)
        last = np.flatnonzero(priced)
        if len(last):
            k = int(last[-1])
            book.set_reference(refs.greeks, k, int(bounds[k]), float(refs.boundary_spot[k]))

    def _sample_one(self, book: Book, bound: int, refs: _SliceReferences, positions: np.ndarray,
                    effective_oi: np.ndarray, flow_rows: dict[str, np.ndarray], trade_hedge_rows: np.ndarray) -> None:
        """:meth:`_sample_boundaries` for one boundary: the same re-hedging arithmetic with the book's
        reference, then :meth:`_record_one`."""
        S, S_ref = float(refs.boundary_spot[0]), refs.book_spot
        rehedge = np.zeros((1, 2))
        if math.isfinite(S) and math.isfinite(S_ref):
            # -delta change * spot, per contract: -(gamma * move + charm/h * hours) * position * 100 * S
            # (numbers as 0-d arrays: numpy skips a Python float's dtype resolution; the same bits)
            change = _finite_or_zero(refs.book_gamma[None, :]) * np.asarray(S - S_ref)
            change += _finite_or_zero(refs.book_charm_per_hour[None, :]) * np.asarray((bound - refs.book_ns) / 3600e9)
            change *= positions
            rehedge = change @ book.side_matrix  # [1, 2]: calls, puts
            rehedge *= -MULT * S
        rehedge += book.hedge_rehedge
        book.hedge_rehedge = rehedge[0]
        if not math.isfinite(S):
            return
        g = refs.greeks
        self._record_one(book, bound, S, float(refs.t[0]), g, positions, effective_oi[0],
                         {k: flow_rows[k][0] for k in STRIKE_FLOW_KEYS}, trade_hedge_rows[0] + rehedge[0],
                         flow_rows["net_premium"][0])
        book.set_reference(g, 0, bound, S)

    def _record_one(self, book: Book, t_ns: int, S: float, t: float, g: rows_mod.GreekRows, position: np.ndarray,
                    effective_oi: np.ndarray, flow: dict[str, np.ndarray], hedge: np.ndarray,
                    net_premium: np.ndarray) -> None:
        """:meth:`_record_rows` for one priced boundary (``g`` and ``position`` one row; ``effective_oi``,
        ``flow`` (per strike), ``hedge`` and ``net_premium`` (calls, puts) that row's values): the same
        sums, with the row's levels, ATM IV and pin score in numbers (rows.walls_one, rows.atm_iv_one,
        decision.pin_score_one)."""
        spots = np.array([S])
        exposures = rows_mod.exposure_rows(g, position, None, spots, book.strike_sums)
        flip, _status = rows_mod.gamma_flip_rows(spots, book.strikes, np.array([t]), book.r, book.q, g.iv_filled,
                                                 position, grid_pct=self.params.flip_grid_pct,
                                                 grid_points=self.params.flip_grid_points,
                                                 prior=np.array([book.last_flip]), layout=book.layout,
                                                 vol_drift=g.vol_drift)
        book.last_flip = float(flip[0])
        atm = rows_mod.atm_iv_one(book.layout, g.iv[0], S)
        sigma = S * atm * math.sqrt(t)
        call_gex, put_gex = exposures.call_gex[0], exposures.put_gex[0]
        nets = exposures.nets
        assert nets is not None  # (exposure_rows without settled positions)
        gex, dex, vex, chex = nets[:, 0]
        net_gex, net_dex, _net_vex, net_chex = np.add.reduce(nets[:, 0], axis=-1).tolist()
        w = rows_mod.walls_one(book.strike_grid, call_gex, put_gex, gex, S, 2.0 * sigma)
        oi_by_strike = book.strike_sums.total(effective_oi)  # (one bincount for a listed chain)
        tot = oi_by_strike.sum()
        top3 = float(100.0 * np.sort(oi_by_strike)[-3:].sum() / max(tot, 1e-12)) if tot > 0 else math.nan
        gross = float(np.add.reduce(np.abs(gex)))
        hours_left = max(0.0, (book.close_ns - t_ns) / 3600e9)
        pin = pin_score_one(S, w[4], hours_left, (book.close_ns - book.open_ns) / 3600e9, sigma, top3, w[5], gross)
        smp = book.sampler
        strike_values = {"gex": gex, "dex": dex, "vex": vex, "chex": chex, "oi": oi_by_strike, **flow}
        series_values = {
            "spot": S, "net_gex": net_gex, "net_dex": net_dex, "gamma_flip": float(flip[0]),
            "call_wall": w[0], "put_wall": w[2], "magnet": w[4], "magnet_gex": w[5], "gross_gex": gross,
            "pin_score": float(pin), "regime": 1.0 if net_gex >= 0 else -1.0, "atm_iv": atm,
            "charm_dollars_per_hour": net_chex,
            "hedge_flow_call_cumulative": float(hedge[0]), "hedge_flow_put_cumulative": float(hedge[1]),
            "net_call_premium_cumulative": float(net_premium[0]), "net_put_premium_cumulative": float(net_premium[1]),
            "pin_probability_pct": math.nan,  # computed on demand (FlowService) from the smile
        }
        smp.record_one(int((t_ns - smp.open_ns) // smp.step_ns), strike_values, series_values, iv=g.iv[0])

    @staticmethod
    def _keep_last_quotes_and_spot(book: Book, spot, quotes, quote_last: tuple[np.ndarray, np.ndarray] | None) -> None:
        """The NBBO and spot in force at the batch end (and the session's opening spot once seen);
        ``quote_last``: (contract, position) of each quoted contract's last quote in the batch (None:
        no quotes, or the print path has already moved the NBBO to them)."""
        spot_ts, spot_px = spot
        quote_ts, quote_contract, quote_bid, quote_ask = quotes
        if quote_last is not None:
            last_contracts, last_quote = quote_last
            book.bid[last_contracts] = quote_bid[last_quote]
            book.ask[last_contracts] = quote_ask[last_quote]
        if len(spot_ts):
            book.spot = float(spot_px[-1])
            book.spot_ts = int(spot_ts[-1])
            if book.open_spot is None and spot_ts[-1] >= book.open_ns:
                book.open_spot = float(spot_px[np.searchsorted(spot_ts, book.open_ns)])

    # --- recompute and sampling ---------------------------------------------------------
    def _boundary_greeks(self, book: Book, bounds: np.ndarray, spot, quotes, q_order=None, q_last=None):
        """Greeks of the whole chain at every sample boundary of a batch, in one vectorized pass:
        spot and NBBO in force at each boundary (as-of), time to the close, IV from the mid."""
        s_ts, s_px = spot
        floor_s = self.params.min_time_to_expiry_seconds
        if len(bounds) == 1:  # one boundary: the same as-of and time to expiry in numbers
            b = int(bounds[0])
            j = int(np.searchsorted(s_ts, b, side="right"))
            S = np.array([float(s_px[j - 1]) if j else book.spot])
            t = np.array([max((book.expiry_close_ns - b) / 1e9, float(floor_s)) / SECONDS_PER_YEAR])
        else:
            i = np.searchsorted(s_ts, bounds, side="right") - 1
            S = np.where(i >= 0, s_px[np.maximum(i, 0)] if len(s_px) else np.nan, book.spot)
            t = np.asarray(years_to_expiry(bounds, book.expiry_close_ns, floor_s), dtype=np.float64)
        q_ts, q_c, q_b, q_a = quotes
        bid, ask = rows_mod.asof_rows(bounds, q_ts, q_c, (q_b, q_a), (book.bid, book.ask), order=q_order,
                                      last=q_last)
        return S, t, rows_mod.greek_rows(book.is_call, book.strikes, S, t, book.r, book.q, bid, ask,
                                      t_iv=self._iv_times(book, len(bounds)), iv_guess=book.iv_guess,
                                      layout=book.layout, vega_theta=False)

    def _iv_times(self, book: Book, m: int) -> np.ndarray | None:
        """Time to expiry at which a projected snapshot's quotes were struck (None: at the clock)."""
        if book.iv_time_ns is None:
            return None
        t_iv = years_to_expiry(book.iv_time_ns, book.expiry_close_ns, self.params.min_time_to_expiry_seconds)
        return np.full(m, t_iv)

    def _print_greeks(self, book: Book, ts, c, spot, bid, ask) -> tuple[np.ndarray, np.ndarray]:
        """Delta and gamma of individual prints from the NBBO mid in force at each (IV from the mid)."""
        bid0 = np.where(np.isfinite(bid) & (bid > 0), bid, 0.0)
        mid = np.where(np.isfinite(ask) & (ask > 0) & (bid0 <= ask), 0.5 * (bid0 + ask), np.nan)
        t = np.asarray(years_to_expiry(ts, book.expiry_close_ns, self.params.min_time_to_expiry_seconds),
                       dtype=np.float64)
        K, call = book.strikes[c], book.is_call[c]
        iv = implied_vol(call, mid, spot, K, t, book.r, book.q)
        g = bs_greeks(call, spot, K, t, book.r, book.q, iv)
        return g.delta, g.gamma

    def _record_rows(self, book: Book, bounds: np.ndarray, spots: np.ndarray, greeks: rows_mod.GreekRows,
                     position_rows: np.ndarray, effective_oi_rows: np.ndarray, flow_rows: dict[str, np.ndarray],
                     hedge_rows: np.ndarray) -> None:
        """Exposures, levels and pin score of every sampled boundary at once, into the 30 s tier;
        ``flow_rows``: the cumulative flows at each boundary (per strike, and ``net_premium`` [rows, 2])."""
        priced = np.isfinite(position_rows).all(axis=1)
        if priced.all():
            idx: np.ndarray | slice = slice(None)
            g = greeks
        elif not priced.any():
            return
        else:
            idx = np.flatnonzero(priced)
            g = greeks.rows(idx)
        t_ns = bounds[idx]
        S = spots[idx]
        positions = position_rows[idx]
        exposures = rows_mod.exposure_rows(g, positions, None, S, book.strike_sums)
        t = np.asarray(years_to_expiry(t_ns, book.expiry_close_ns, self.params.min_time_to_expiry_seconds),
                       dtype=np.float64)
        flip, _status = rows_mod.gamma_flip_rows(S, book.strikes, t, book.r, book.q, g.iv_filled, positions,
                                                 grid_pct=self.params.flip_grid_pct,
                                                 grid_points=self.params.flip_grid_points,
                                                 prior=np.full(len(S), book.last_flip), layout=book.layout)
        book.last_flip = float(flip[-1])
        atm = rows_mod.atm_iv_rows(book.strike_grid, book.strike_index, g.iv, S)
        sigma = S * atm * np.sqrt(t)
        w = rows_mod.wall_rows(book.strike_grid, exposures.call_gex, exposures.put_gex, S, 2.0 * sigma)
        oi_rows = book.strike_sums.total(effective_oi_rows[idx])
        tot = oi_rows.sum(axis=1)
        top3 = np.where(tot > 0, 100.0 * np.sort(oi_rows, axis=1)[:, -3:].sum(axis=1) / np.maximum(tot, 1e-12), np.nan)
        gross = np.abs(exposures.gex).sum(axis=1)
        hours_left = np.maximum(0.0, (book.close_ns - t_ns) / 3600e9)
        pins = pin_score_components(S, w.magnet, hours_left, (book.close_ns - book.open_ns) / 3600e9, sigma, top3,
                                    w.magnet_gex, gross)
        net_gex = exposures.gex.sum(axis=1)
        smp = book.sampler
        slots = ((t_ns - smp.open_ns) // smp.step_ns).astype(np.int64)
        strike_values = {"gex": exposures.gex, "dex": exposures.dex, "vex": exposures.vex, "chex": exposures.chex,
                         "oi": oi_rows,
                         **{key: flow_rows[key][idx] for key in STRIKE_FLOW_KEYS}}
        series_values = {
            "spot": S, "net_gex": net_gex, "net_dex": exposures.dex.sum(axis=1), "gamma_flip": flip,
            "call_wall": w.call_wall, "put_wall": w.put_wall, "magnet": w.magnet, "magnet_gex": w.magnet_gex,
            "gross_gex": gross, "pin_score": pins["pin_score"], "regime": np.where(net_gex >= 0, 1.0, -1.0),
            "atm_iv": atm, "charm_dollars_per_hour": exposures.chex.sum(axis=1),
            "hedge_flow_call_cumulative": hedge_rows[idx, 0], "hedge_flow_put_cumulative": hedge_rows[idx, 1],
            "net_call_premium_cumulative": flow_rows["net_premium"][idx, 0],
            "net_put_premium_cumulative": flow_rows["net_premium"][idx, 1],
            "pin_probability_pct": np.full(len(S), np.nan),  # computed on demand (FlowService) from the smile
        }
        smp.record_rows(slots, strike_values, series_values, iv=g.iv)

    def state(self, symbol: str, now_ns: int | None = None) -> ChainState:
        """Point-in-time ChainState at ``now_ns`` (default: the engine clock), cached per clock value."""
        book = self.books[symbol.upper()]
        now = book.clock_ns if now_ns is None else int(now_ns)
        cached = book._cache
        if cached is not None and cached.as_of_ns == now:
            return cached
        st = self._compute(book, now, book.spot, levels=True)
        book._cache = st
        return st

    def _compute(self, book: Book, now_ns: int, spot: float, *, levels: bool) -> ChainState:
        """Point-in-time recompute: the one-row case of the vectorized sampling path (engine/rows.py)."""
        p = self.params
        t = float(years_to_expiry(now_ns, book.expiry_close_ns, p.min_time_to_expiry_seconds))
        bid, ask = book.bid, book.ask
        S1, T1 = np.array([spot], dtype=np.float64), np.array([t])
        g = rows_mod.greek_rows(book.is_call, book.strikes, S1, T1, book.r, book.q, bid[None, :], ask[None, :],
                                t_iv=self._iv_times(book, 1), iv_guess=book.iv_guess, layout=book.layout)
        pos, pos_settled = book.positions()
        eff = book.effective_oi()
        ex = rows_mod.exposure_rows(g, pos[None, :], pos_settled[None, :], S1, book.strike_sums)
        call_gex, put_gex, call_dex, put_dex = ex.call_gex[0], ex.put_gex[0], ex.call_dex[0], ex.put_dex[0]
        net_vex, net_chex = ex.vex[0], ex.chex[0]
        assert ex.call_gex_settled is not None and ex.put_gex_settled is not None and ex.dex_settled is not None
        call_gex_s, put_gex_s, net_dex_s = ex.call_gex_settled[0], ex.put_gex_settled[0], ex.dex_settled[0]
        key, n_k, sk = book.strike_side_key, len(book.strike_grid), book.strike_index
        oi_cp = np.bincount(key, weights=eff, minlength=2 * n_k)
        vol_cp = np.bincount(key, weights=book.volume, minlength=2 * n_k)
        call_oi, put_oi, call_vol, put_vol = oi_cp[0::2], oi_cp[1::2], vol_cp[0::2], vol_cp[1::2]
        mid, iv = g.mid[0], g.iv[0]
        net_gex = float(call_gex.sum() + put_gex.sum())
        vega, theta = g.vega, g.theta
        assert vega is not None and theta is not None  # (greek_rows with vega_theta)
        theta_day = float(np.nansum(theta[0] * pos) * MULT / 365.0)
        bias, conf = oi.open_close_bias(book.net_oi_delta, book.volume, p.bias_threshold)
        atm_strike = atm_iv = straddle = None
        if np.isfinite(spot) and n_k:
            k = int(np.argmin(np.abs(book.strike_grid - spot)))
            atm_strike = float(book.strike_grid[k])
            a = float(rows_mod.atm_iv_rows(book.strike_grid, sk, g.iv, S1)[0])
            atm_iv = a if np.isfinite(a) else None
            at = sk == k
            if at.sum() == 2 and np.isfinite(mid[at]).all():
                straddle = float(mid[at].sum())
        flip, flip_status = (None, "not_computed")
        w = rows_mod.Walls(*([None] * 10))
        mp = None
        if levels and np.isfinite(spot):
            lvl, st = rows_mod.gamma_flip_rows(S1, book.strikes, T1, book.r, book.q, g.iv_filled, pos[None, :],
                                               grid_pct=p.flip_grid_pct, grid_points=p.flip_grid_points,
                                               prior=np.array([book.last_flip]))
            flip = float(lvl[0]) if np.isfinite(lvl[0]) else None
            flip_status = rows_mod.FLIP_STATUS_NAMES[int(st[0])]
            band = 2.0 * spot * atm_iv * math.sqrt(t) if atm_iv else None
            w = rows_mod.walls(book.strike_grid, call_gex, put_gex, call_gex + put_gex, call_oi + put_oi, spot, band)
            mp = max_pain(book.strike_grid, book.strikes, book.is_call, eff)
        ch = g.charm_per_hour[0]
        traded = book.volume > 0
        ro = _readonly
        return ChainState(
            symbol=book.symbol, expiry=book.chain.expiry, as_of_ns=int(now_ns), open_ns=book.open_ns,
            close_ns=book.close_ns, spot=float(spot), prev_close=book.chain.prev_close, open_spot=book.open_spot,
            t_years=t, r=book.r, q=book.q,
            strikes=book.strikes, is_call=book.is_call, occ_symbols=book.chain.occ_symbols,
            settled_oi=ro(book.settled_oi), effective_oi=ro(eff), net_oi_delta=ro(book.net_oi_delta.copy()),
            volume=ro(book.volume.copy()), bid=ro(bid.copy()), ask=ro(ask.copy()), mid=ro(mid), iv=ro(iv),
            delta=ro(g.delta[0]), gamma=ro(g.gamma[0]), vega=ro(vega[0]), theta=ro(theta[0]), vanna=ro(g.vanna[0]),
            charm_per_hour=ro(ch), position=ro(pos), position_settled=ro(pos_settled), bias=ro(bias),
            bias_confidence=ro(conf),
            strike_grid=book.strike_grid, strike_index=sk, call_gex=ro(call_gex), put_gex=ro(put_gex),
            call_dex=ro(call_dex), put_dex=ro(put_dex), strike_vex=ro(net_vex), strike_chex=ro(net_chex),
            call_gex_settled=ro(call_gex_s), put_gex_settled=ro(put_gex_s), net_dex_settled=ro(net_dex_s),
            call_oi=ro(call_oi), put_oi=ro(put_oi), call_volume=ro(call_vol), put_volume=ro(put_vol),
            net_gex=net_gex, net_dex=float(call_dex.sum() + put_dex.sum()), net_vex=float(net_vex.sum()),
            net_chex=float(net_chex.sum()), net_gex_settled=float(call_gex_s.sum() + put_gex_s.sum()),
            net_theta_usd_per_day=theta_day,
            gamma_flip=flip, gamma_flip_status=flip_status,
            regime="positive_gamma" if net_gex >= 0 else "negative_gamma", walls=w, max_pain=mp,
            atm_strike=atm_strike, atm_iv=atm_iv, straddle=straddle,
            hedge_flow_call_cumulative=float(book.hedge_trade[0] + book.hedge_rehedge[0]),
            hedge_flow_put_cumulative=float(book.hedge_trade[1] + book.hedge_rehedge[1]),
            contracts_with_flow=int(traded.sum()),
            total_abs_delta_contracts=int(round(float(np.abs(book.net_oi_delta).sum()))),
            iv_coverage=float(np.isfinite(iv).mean()) if len(iv) else 0.0,
            vol_context=vc if (vc := self.vol_context.get(book.symbol)) is not None and vc.ts_ns <= now_ns else None,
        )


_NO_ROWS = np.empty(0, dtype=np.intp)
_NO_ROWS.setflags(write=False)


def _run_ends(sorted_keys: np.ndarray) -> np.ndarray:
    """Positions of the last element of each run of equal values in a sorted, non-empty array."""
    last = np.empty(len(sorted_keys), dtype=bool)
    np.not_equal(sorted_keys[1:], sorted_keys[:-1], out=last[:-1])
    last[-1] = True
    return np.flatnonzero(last)


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    a.setflags(write=False)
    return a


def _finite_or_zero(a: np.ndarray) -> np.ndarray:
    """A copy of ``a`` with NaN and +-inf replaced by 0."""
    return np.where(np.isfinite(a), a, 0.0)
