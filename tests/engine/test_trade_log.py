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


def test_columns_share_one_buffer_at_64_byte_offsets_and_survive_pickling():
    import pickle

    log = TradeLog(capacity=10)
    log.append(**_prints(0, 25))  # one reallocation past the initial capacity
    for name, col in log.cols.items():
        assert col.base is not None and np.shares_memory(col, log._buffer), name
        offset = col.__array_interface__["data"][0] - log._buffer.__array_interface__["data"][0]
        assert offset % 64 == 0, name  # each column starts on a 64-byte boundary of the buffer
    back = pickle.loads(pickle.dumps(log))
    assert back.n == 25
    for name in TradeLog.COLUMNS:
        np.testing.assert_array_equal(back.view(name), log.view(name))
    assert back.append(**_prints(25, 1)) == 25
