"""The trade log grows geometrically (issue 17, "Bounded state"): appending N prints one batch at a
time reallocates O(log N) times, never once per append, and keeps every print in order."""

from __future__ import annotations

import math

import numpy as np

from zdte_tui.engine.flow_engine import TradeLog


def _prints(first: int, k: int) -> dict[str, np.ndarray]:
    ts = np.arange(first, first + k, dtype=np.int64)
    return {name: ts.astype(dtype) for name, dtype in TradeLog.COLUMNS.items()}


def test_appending_one_print_at_a_time_reallocates_logarithmically_often():
    log = TradeLog(capacity=16)
    capacities = {len(log.cols["ts_ns"])}
    for i in range(20_000):
        assert log.append(**_prints(i, 1)) == i
        capacities.add(len(log.cols["ts_ns"]))
    # capacity grows by >= 1.5x per reallocation: 16 -> 20,000 takes at most log_1.5(1250) + 1 steps
    assert len(capacities) - 1 <= math.ceil(math.log(20_000 / 16, 1.5)) + 1
    np.testing.assert_array_equal(log.view("ts_ns"), np.arange(20_000))
    np.testing.assert_array_equal(log.view("contract"), np.arange(20_000, dtype=np.int32))


def test_a_batch_larger_than_the_growth_step_fits_in_one_reallocation():
    log = TradeLog(capacity=4)
    log.append(**_prints(0, 3))
    first = log.append(**_prints(3, 1000))
    assert first == 3 and log.n == 1003
    assert len(log.cols["ts_ns"]) >= 1003
    np.testing.assert_array_equal(log.view("ts_ns"), np.arange(1003))
