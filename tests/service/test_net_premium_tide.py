"""The net-premium tide (issue 13, tape filters: "a net-premium tide line, calls vs puts"): every
series bar carries the session's net call and net put premium up to that bar, premium bought at
the ask minus premium sold at the bid (Unusual Whales' market tide)."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from zdte_tui.market.calendar import session_bounds_ns
from zdte_tui.market.events import NS_PER_SECOND, ChainDefinition, EventBatch, OptionQuotes, OptionTrades, SpotTicks
from zdte_tui.service import FlowService
from zdte_tui.service.views.series import net_premium_cumulative

from .conftest import SESSION, ListSource


def _tiny_day():
    """590 call and put, quoted 1.90/2.00 and 0.90/1.00; three prints in the first minute and one
    in the second: call bought at the ask, put sold at the bid, call at the mid, put bought."""
    open_ns, _close = session_bounds_ns(SESSION)
    chain = ChainDefinition("SPY", SESSION, np.array([590.0, 590.0]), np.array([True, False]),
                            np.array([1000, 1000]), prev_close=589.0)
    events = [chain]
    prints = {0: ([0, 1, 0], [2.00, 0.90, 1.95], [10, 5, 7]), 2: ([1], [1.00], [3])}  # slice -> (contract, px, size)
    for k in range(4):
        s0 = open_ns + k * 30 * NS_PER_SECOND
        s1 = s0 + 30 * NS_PER_SECOND
        contract, price, size = prints.get(k, ([], [], []))
        n = len(contract)
        events.append(EventBatch(
            "SPY", s0, s1, SpotTicks([s0 + 500], [590.0]),
            OptionQuotes(np.full(2, s0 + 1000), np.arange(2), np.array([1.90, 0.90]), np.array([2.00, 1.00]),
                         np.ones(2), np.ones(2)),
            OptionTrades(np.arange(n, dtype=np.int64) * 1000 + s0 + 5000, np.array(contract, dtype=np.int32),
                         np.array(price, dtype=np.float64), np.array(size, dtype=np.int64),
                         np.ones(n, dtype=np.int64))))
    return events


def test_series_bars_carry_net_call_and_put_premium_since_the_open():
    service = FlowService(ListSource(_tiny_day())).run_to_end()
    bars = service.series("SPY", "30s", 390)["bars"]
    tide = [(b["t"][11:19], b["net_call_premium_cumulative"], b["net_put_premium_cumulative"]) for b in bars]
    # 09:30:30 (14:30:30Z): call +2.00 x 10 x 100 = +2,000 (the mid print counts 0); put -0.90 x 5 x 100 = -450
    # 09:31:30: the put bought at the ask adds +1.00 x 3 x 100 = +300
    assert tide == [("14:30:30", 2000.0, -450.0), ("14:31:00", 2000.0, -450.0), ("14:31:30", 2000.0, -150.0),
                    ("14:32:00", 2000.0, -150.0)]


def test_prints_before_the_open_or_after_the_bar_do_not_count():
    open_ns = 1_000
    calls, puts = net_premium_cumulative(
        ts_ns=np.array([500, 1_000, 1_500, 2_500]), is_call=np.array([True, True, False, True]),
        side=np.array([1, 1, -1, 1]), price=np.array([9.0, 1.0, 2.0, 4.0]), size=np.array([1, 2, 1, 1]),
        times=np.array([1_000, 2_000, 3_000]), open_ns=open_ns)
    assert calls.tolist() == [200.0, 200.0, 600.0] and puts.tolist() == [0.0, -200.0, -200.0]


@given(st.lists(st.tuples(st.integers(0, 10_000), st.booleans(), st.sampled_from([-1, 0, 1]),
                          st.floats(0.01, 50), st.integers(1, 500)), max_size=60))
def test_the_tide_at_the_end_is_the_sum_of_every_signed_premium(prints):
    ts = np.array([p[0] for p in prints], dtype=np.int64)
    is_call = np.array([p[1] for p in prints], dtype=bool)
    side, price, size = (np.array([p[k] for p in prints], dtype=np.float64) for k in (2, 3, 4))
    calls, puts = net_premium_cumulative(ts, is_call, side, price, size, np.array([10_000]), open_ns=0)
    signed = side * price * size * 100.0
    assert np.isclose(calls[0], signed[is_call].sum()) and np.isclose(puts[0], signed[~is_call].sum())
