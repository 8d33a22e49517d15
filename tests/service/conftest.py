"""A small, hand-built SPY 0DTE session (no simulator): a deterministic engine state for service tests."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from zdte_tui.engine.greeks import bs_price, years_to_expiry
from zdte_tui.market.calendar import session_bounds_ns
from zdte_tui.market.events import NS_PER_SECOND, ChainDefinition, EventBatch, OptionQuotes, OptionTrades, SpotTicks
from zdte_tui.sources.base import EventSource

SESSION = dt.date(2026, 11, 20)  # a Friday, a full trading day


class ListSource(EventSource):
    """Plays a fixed list of events (no clock)."""

    name = "list"
    simulated = True

    def __init__(self, events, symbols=("SPY",), session_date=SESSION):
        self._events = list(events)
        self.symbols = tuple(symbols)
        self.session_date = session_date

    async def events(self):
        for e in self._events:
            yield e


def build_session(minutes: int = 30, seed: int = 1, symbol: str = "SPY", spot0: float = 590.0,
                  trades_per_slice: int = 400, block_every: int = 7):
    """Chain 560-620 (calls and puts), OI heavier on multiples of 5; 30 s slices from the open with a
    quote per contract at 15% vol, random prints at bid or ask, and a block print every few slices."""
    open_ns, close_ns = session_bounds_ns(SESSION)
    K = np.repeat(np.arange(spot0 - 30, spot0 + 31, 1.0), 2)
    is_call = np.tile([True, False], len(K) // 2)
    oi = (800 + 4000 * (K % 5 == 0)).astype(np.int64)
    chain = ChainDefinition(symbol, SESSION, K, is_call, oi, prev_close=spot0 - 1.0)
    rng = np.random.default_rng(seed)
    events = [chain]
    S = spot0
    for k in range(minutes * 2):
        s0 = open_ns + k * 30 * NS_PER_SECOND
        s1 = s0 + 30 * NS_PER_SECOND
        S *= float(np.exp(rng.normal(0, 0.0004)))
        t = years_to_expiry(s1, close_ns)
        px = bs_price(is_call, S, K, t, 0.045, 0.012, 0.15)
        bid = np.maximum(np.round(px - 0.02, 2), 0.0)
        ask = np.round(px + 0.02, 2) + 0.01
        n = trades_per_slice
        c = rng.integers(0, len(K), n).astype(np.int32)
        ts = np.sort(rng.integers(s0 + 2000, s1, n))
        price = np.where(rng.random(n) < 0.6, ask[c], bid[c])
        size = rng.integers(1, 40, n)
        if k % block_every == 3:
            size[n // 2] = 900  # a block-sized lone print
        events.append(EventBatch(
            symbol, s0, s1, SpotTicks([s0 + 500], [S]),
            OptionQuotes(np.full(len(K), s0 + 1000), np.arange(len(K)), bid, ask, np.ones(len(K)), np.ones(len(K))),
            OptionTrades(ts, c, price, size, rng.integers(1, 16, n))))
    return events


@pytest.fixture(scope="session")
def service():
    from zdte_tui.service import FlowService

    return FlowService(ListSource(build_session())).run_to_end()
