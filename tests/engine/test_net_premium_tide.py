"""The net-premium tide is accumulated per 30 s sample at ingest (docs/recording-format.md, "Memory of
a replay"): on the fixed regression day (a whole session, 11.7k prints in 149 batches of 7 s to 10
minutes) the sampler's ``net_call_premium_cumulative`` / ``net_put_premium_cumulative`` at every
sampled slot equal the full scan of the trade log that the series query used to run
(``service.views.series.net_premium_cumulative``), and so do the API's rounded values."""

from __future__ import annotations

import numpy as np
import pytest

from tests.engine.regression_day import replay_engine
from zdte_tui.service.views.format import num
from zdte_tui.service.views.series import net_premium_cumulative


@pytest.fixture(scope="module")
def day():
    engine, _states = replay_engine()
    return engine.books["SPY"]


def _full_scan(book, times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    log = book.log
    return net_premium_cumulative(log.view("ts_ns"), book.is_call[log.view("contract")], log.view("side"),
                                  log.view("price"), log.view("size"), times, book.sampler.open_ns)


def test_the_per_sample_tide_equals_the_full_scan_of_the_prints_at_every_slot(day) -> None:
    smp = day.sampler
    slots = np.flatnonzero(smp.filled)
    assert len(slots) == 781 and day.log.n > 10_000
    calls, puts = _full_scan(day, smp.slot_time_ns(slots))
    assert np.abs(calls).max() > 1e5 and np.abs(puts).max() > 1e5  # the day has real flow on both sides
    np.testing.assert_allclose(smp.series["net_call_premium_cumulative"][slots], calls, rtol=1e-12, atol=1e-6)
    np.testing.assert_allclose(smp.series["net_put_premium_cumulative"][slots], puts, rtol=1e-12, atol=1e-6)
    # what the series response shows (whole dollars) is identical
    assert [num(v, 0) for v in smp.series["net_call_premium_cumulative"][slots]] == [num(v, 0) for v in calls]
    assert [num(v, 0) for v in smp.series["net_put_premium_cumulative"][slots]] == [num(v, 0) for v in puts]


def test_the_tide_at_the_close_is_every_signed_premium_since_the_open(day) -> None:
    log = day.log
    after_open = log.view("ts_ns") >= day.open_ns
    signed = log.view("side") * log.view("price") * log.view("size") * 100.0
    is_call = day.is_call[log.view("contract")]
    assert day.net_premium[0] == pytest.approx(signed[after_open & is_call].sum(), rel=1e-12)
    assert day.net_premium[1] == pytest.approx(signed[after_open & ~is_call].sum(), rel=1e-12)
