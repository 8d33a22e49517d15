"""Engine event types: the one vocabulary every source emits and the engine ingests.

Events are *columnar*: a batch holds numpy arrays for one underlying over one time slice,
so the engine can classify and aggregate them without a Python loop per print.

Timestamps are int64 nanoseconds since the Unix epoch (UTC). Prices are float64 dollars.
Contracts are addressed by an int32 index into the underlying's :class:`ChainDefinition`.

A source emits, per underlying:
1. one :class:`ChainDefinition` (contracts + prior-session settled OI) before any batch
   that references its contracts (it may emit a new one later, e.g. when a live feed
   re-centers its strike band: the new definition must keep earlier contract indices
   and append new contracts at the end);
2. :class:`EventBatch` objects in non-decreasing time order. Within a batch every array
   is sorted by ``ts_ns``; at equal timestamps quotes apply before trades.
3. optionally :class:`FeedStatus` events (gaps, health, errors);
4. optionally :class:`VolContext` events (the next-week expiry's ATM implied vol and VIX) when the
   source can see them; the latest one per underlying is in force.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

import numpy as np

NS_PER_SECOND = 1_000_000_000
CONTRACT_MULTIPLIER = 100


def _arr(values, dtype) -> np.ndarray:
    out = np.ascontiguousarray(values, dtype=dtype)
    out.setflags(write=False)
    return out


@dataclass(frozen=True, eq=False)
class ChainDefinition:
    """Option contracts of one underlying and one expiry, addressed by index.

    ``strikes[i]``, ``is_call[i]``, ``settled_oi[i]`` describe contract ``i``. Settled OI is
    the prior session's end-of-day open interest in contracts (>= 0).
    ``occ_symbols[i]`` is the OCC OSI symbol of contract ``i`` (21-char padded form).
    """

    underlying: str
    expiry: date
    strikes: np.ndarray  # float64 dollars
    is_call: np.ndarray  # bool
    settled_oi: np.ndarray  # int64 contracts
    occ_symbols: tuple[str, ...] = ()
    multiplier: int = CONTRACT_MULTIPLIER
    prev_close: float | None = None  # underlying's prior-session close, dollars
    # A delayed snapshot valued later than its quotes (sources/cboe): implied vols are solved
    # from the mids at this time, greeks at the engine clock (sticky-strike projection).
    iv_time_ns: int | None = None
    # The session a later (not same-day) expiry is valued in (sources/cboe when the next session's
    # expiry is not listed); None: the expiry's own session. Time to expiry runs to the expiry's close.
    session_date: date | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "strikes", _arr(self.strikes, np.float64))
        object.__setattr__(self, "is_call", _arr(self.is_call, np.bool_))
        object.__setattr__(self, "settled_oi", _arr(self.settled_oi, np.int64))
        n = len(self.strikes)
        if len(self.is_call) != n or len(self.settled_oi) != n:
            raise ValueError("ChainDefinition arrays must have equal length")
        if self.occ_symbols and len(self.occ_symbols) != n:
            raise ValueError("occ_symbols must have one entry per contract")

    @property
    def n_contracts(self) -> int:
        return len(self.strikes)


def _empty(dtype) -> np.ndarray:
    return _arr(np.empty(0, dtype=dtype), dtype)


@dataclass(frozen=True, eq=False)
class SpotTicks:
    """Underlying prints (or mid updates): ``price[i]`` in force from ``ts_ns[i]``."""

    ts_ns: np.ndarray = field(default_factory=lambda: _empty(np.int64))
    price: np.ndarray = field(default_factory=lambda: _empty(np.float64))

    def __post_init__(self) -> None:
        object.__setattr__(self, "ts_ns", _arr(self.ts_ns, np.int64))
        object.__setattr__(self, "price", _arr(self.price, np.float64))

    def __len__(self) -> int:
        return len(self.ts_ns)


@dataclass(frozen=True, eq=False)
class OptionQuotes:
    """NBBO updates: contract ``contract[i]`` quotes ``bid[i]`` x ``ask[i]`` from ``ts_ns[i]``.

    A missing side is NaN (or <= 0 bid, meaning no bid). Sizes are contracts.
    """

    ts_ns: np.ndarray = field(default_factory=lambda: _empty(np.int64))
    contract: np.ndarray = field(default_factory=lambda: _empty(np.int32))
    bid: np.ndarray = field(default_factory=lambda: _empty(np.float64))
    ask: np.ndarray = field(default_factory=lambda: _empty(np.float64))
    bid_size: np.ndarray = field(default_factory=lambda: _empty(np.int32))
    ask_size: np.ndarray = field(default_factory=lambda: _empty(np.int32))

    def __post_init__(self) -> None:
        for name, dt in (("ts_ns", np.int64), ("contract", np.int32), ("bid", np.float64),
                         ("ask", np.float64), ("bid_size", np.int32), ("ask_size", np.int32)):
            object.__setattr__(self, name, _arr(getattr(self, name), dt))

    def __len__(self) -> int:
        return len(self.ts_ns)


@dataclass(frozen=True, eq=False)
class OptionTrades:
    """Option prints: ``size[i]`` contracts of ``contract[i]`` at ``price[i]`` at ``ts_ns[i]``.

    ``exchange`` is a venue code (0 = unknown). Trades carry no aggressor side: the engine
    classifies them against the NBBO in force at ``ts_ns``.
    """

    ts_ns: np.ndarray = field(default_factory=lambda: _empty(np.int64))
    contract: np.ndarray = field(default_factory=lambda: _empty(np.int32))
    price: np.ndarray = field(default_factory=lambda: _empty(np.float64))
    size: np.ndarray = field(default_factory=lambda: _empty(np.int32))
    exchange: np.ndarray = field(default_factory=lambda: _empty(np.int16))

    def __post_init__(self) -> None:
        for name, dt in (("ts_ns", np.int64), ("contract", np.int32), ("price", np.float64),
                         ("size", np.int32), ("exchange", np.int16)):
            object.__setattr__(self, name, _arr(getattr(self, name), dt))

    def __len__(self) -> int:
        return len(self.ts_ns)


@dataclass(frozen=True, eq=False)
class EventBatch:
    """All events of one underlying in the half-open time slice ``(start_ns, end_ns]``.

    ``end_ns`` is the source clock at the end of the slice: the engine treats the market as
    observed up to ``end_ns`` even if the slice holds no events (that is how quiet periods
    differ from gaps).
    """

    underlying: str
    start_ns: int
    end_ns: int
    spot: SpotTicks = field(default_factory=SpotTicks)
    quotes: OptionQuotes = field(default_factory=OptionQuotes)
    trades: OptionTrades = field(default_factory=OptionTrades)


FeedKind = Literal["equity_feed", "equity_options_feed", "index_feed", "index_options_feed", "oi_feed"]


@dataclass(frozen=True)
class FeedStatus:
    """Out-of-band feed news: a gap opened/closed, an error, or malformed input skipped.

    ``kind``: ``"gap_start"`` / ``"gap_end"`` (ts_ns marks the boundary), ``"error"``
    (message shown in the TUI header), ``"malformed"`` (``count`` messages skipped),
    ``"delivered"`` (a feed delivered data at ts_ns; drives ``data_as_of``).
    """

    kind: Literal["gap_start", "gap_end", "error", "malformed", "delivered", "info"]
    ts_ns: int
    underlying: str | None = None
    feed: str | None = None
    message: str = ""
    count: int = 0



@dataclass(frozen=True)
class VolContext:
    """Term-structure context of one underlying, in force from ``ts_ns`` until the next one.

    ``term_atm_iv`` is the at-the-money implied vol (annualized decimal, ACT/365, the same
    convention as the engine's 0DTE IVs) of ``term_expiry``, the listed expiry whose calendar-day
    distance from the session date is nearest 7 (ties to the later one; see
    :func:`zdte_tui.market.term.pick_term_expiry`). ``vix`` is the VIX index level in vol points
    (e.g. 17.3) or None. Any field may be None: a source fills what it sees and nothing else.
    ``origin`` names where the numbers come from (e.g. ``"cboe_chain"``, ``"simulated"``).
    """

    underlying: str
    ts_ns: int
    term_expiry: date | None = None
    term_atm_iv: float | None = None
    vix: float | None = None
    origin: str = ""

    def __post_init__(self) -> None:
        for name in ("term_atm_iv", "vix"):
            v = getattr(self, name)
            if v is not None and not (isinstance(v, (int, float)) and v == v and 0.0 < float(v) < 1e4):
                raise ValueError(f"VolContext.{name} must be a positive finite number or None, got {v!r}")


@dataclass(frozen=True)
class SessionReset:
    """A replay seeked backwards to ``ts_ns``.

    ``resume_ns`` None: discard all engine state; definitions and the history up to ``ts_ns`` follow.
    ``resume_ns`` set: the consumer restores the engine checkpoint it offered at that time (see
    :attr:`zdte_tui.sources.base.EventSource.resume_points`); only the events in
    ``(resume_ns, ts_ns]`` follow, no definitions."""

    ts_ns: int
    resume_ns: int | None = None


Event = ChainDefinition | EventBatch | FeedStatus | VolContext | SessionReset
