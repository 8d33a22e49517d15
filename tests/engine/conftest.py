"""Small builders for engine specification tests: a SPY 0DTE chain on a real 2026 session,
NBBO quotes priced from Black-Scholes, and EventBatch objects written out by hand.

Contract layout of :func:`spy_chain`: calls first (index ``i`` = ``strikes[i]``), then puts
(index ``n + i``), so ``call_index(chain, K)`` / ``put_index(chain, K)`` find a contract.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

import numpy as np
from hypothesis import HealthCheck, settings

from zdte_tui.engine.flow_engine import FlowEngine
from zdte_tui.engine.greeks import bs_price, years_to_expiry
from zdte_tui.engine.params import EngineParams
from zdte_tui.market.calendar import session_bounds_ns
from zdte_tui.market.events import NS_PER_SECOND, ChainDefinition, EventBatch, OptionQuotes, OptionTrades, SpotTicks

NS = NS_PER_SECOND
SESSION_DAY = date(2026, 3, 16)  # a Monday, full session 09:30-16:00 ET
OPEN_NS, CLOSE_NS = session_bounds_ns(SESSION_DAY)
SPY_R = EngineParams().risk_free_rate
SPY_Q = EngineParams().q_for("SPY")

# Hypothesis settings for every property here: reproducible (derandomized), no deadline
# (the first call of a numpy path can be slow), bounded example counts to keep files fast.
PROPERTY = settings(derandomize=True, deadline=None, max_examples=100,
                    suppress_health_check=[HealthCheck.too_slow])
PROPERTY_FEW = settings(PROPERTY, max_examples=25)


def at(seconds_after_open: float) -> int:
    """Event time ``seconds_after_open`` after the 09:30 ET bell of SESSION_DAY, ns."""
    return OPEN_NS + int(round(seconds_after_open * NS))


def spy_chain(strikes: Sequence[float] = (590, 595, 600, 605, 610), settled_oi: Sequence[int] | int = 1000,
              *, calls: bool = True, puts: bool = True, underlying: str = "SPY",
              expiry: date = SESSION_DAY) -> ChainDefinition:
    """Chain of calls (indices 0..n-1) then puts (n..2n-1) on ``strikes``; OI per contract or one value."""
    k = np.asarray(strikes, dtype=np.float64)
    parts_k, parts_c = [], []
    if calls:
        parts_k.append(k)
        parts_c.append(np.ones(len(k), dtype=bool))
    if puts:
        parts_k.append(k)
        parts_c.append(np.zeros(len(k), dtype=bool))
    all_k = np.concatenate(parts_k)
    oi = np.broadcast_to(np.asarray(settled_oi, dtype=np.int64), all_k.shape)
    return ChainDefinition(underlying, expiry, all_k, np.concatenate(parts_c), oi)


def call_index(chain: ChainDefinition, strike: float) -> int:
    return int(np.flatnonzero(chain.is_call & (chain.strikes == strike))[0])


def put_index(chain: ChainDefinition, strike: float) -> int:
    return int(np.flatnonzero(~chain.is_call & (chain.strikes == strike))[0])


def bs_quotes(chain: ChainDefinition, ts_ns: int, spot: float, sigma: float | np.ndarray = 0.20,
              half_spread: float = 0.01, close_ns: int = CLOSE_NS) -> OptionQuotes:
    """One NBBO per contract at ``ts_ns``: Black-Scholes value at ``sigma`` +- ``half_spread``
    (bid floored at 0.01 below the ask so every quote is valid and solvable)."""
    t = years_to_expiry(ts_ns, close_ns)
    value = bs_price(chain.is_call, spot, chain.strikes, t, SPY_R, SPY_Q, sigma)
    n = chain.n_contracts
    ask = value + half_spread
    bid = np.maximum(value - half_spread, 0.0)
    return OptionQuotes(ts_ns=np.full(n, ts_ns), contract=np.arange(n), bid=bid, ask=ask,
                        bid_size=np.full(n, 10), ask_size=np.full(n, 10))


def quotes(rows: Iterable[tuple[int, int, float, float]]) -> OptionQuotes:
    """Quotes from (ts_ns, contract, bid, ask) rows (sizes 10 x 10)."""
    rows = list(rows)
    if not rows:
        return OptionQuotes()
    ts, c, b, a = (list(col) for col in zip(*rows))
    return OptionQuotes(ts_ns=ts, contract=c, bid=b, ask=a, bid_size=[10] * len(ts), ask_size=[10] * len(ts))


def trades(rows: Iterable[tuple[int, int, float, int]]) -> OptionTrades:
    """Trades from (ts_ns, contract, price, size) rows (exchange 0)."""
    rows = list(rows)
    if not rows:
        return OptionTrades()
    ts, c, p, s = (list(col) for col in zip(*rows))
    return OptionTrades(ts_ns=ts, contract=c, price=p, size=s, exchange=[0] * len(ts))


def spot_ticks(rows: Iterable[tuple[int, float]]) -> SpotTicks:
    rows = list(rows)
    if not rows:
        return SpotTicks()
    ts, px = (list(col) for col in zip(*rows))
    return SpotTicks(ts_ns=ts, price=px)


def batch(start_ns: int, end_ns: int, *, spot=(), quote_rows=None, trade_rows=(), option_quotes=None,
          underlying: str = "SPY") -> EventBatch:
    """EventBatch over (start_ns, end_ns] from rows; ``option_quotes`` passes a ready OptionQuotes."""
    q = option_quotes if option_quotes is not None else quotes(quote_rows or ())
    return EventBatch(underlying, int(start_ns), int(end_ns), spot=spot_ticks(spot), quotes=q,
                      trades=trades(trade_rows))


def new_engine(chain: ChainDefinition, params: EngineParams | None = None, *, audit_prints: bool = False) -> FlowEngine:
    """A FlowEngine on the real XNYS calendar that has seen ``chain`` (``audit_prints``: its trade logs
    also keep each print's valuation)."""
    engine = FlowEngine(params, session_bounds=session_bounds_ns, audit_prints=audit_prints)
    engine.apply(chain)
    return engine
