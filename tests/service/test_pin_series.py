"""The series' per-bar pin odds (``pin_probability_pct``, FlashAlpha series contract) are computed
for all the bars to fill in one vectorized call (issue 17, "Fast start": the first refresh filled
them bar by bar). The rule: each bar's value is exactly what the per-bar definition,
``snapshot_view.pin_probability_at`` (the snapshot's ``probabilities.pin.value`` for that sample),
gives, to 1e-12."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.engine.regression_day import load_day
from zdte_tui.engine.calibration import HORIZON_LABELS, fit_calibration
from zdte_tui.engine.flow_engine import FlowEngine
from zdte_tui.engine.params import EngineParams
from zdte_tui.engine.probabilities import _prob_between, lognormal_band_probabilities, lognormal_close_cdf
from zdte_tui.market.calendar import session_bounds_ns
from zdte_tui.service.views import snapshot as snapshot_view


def _phi(z: float) -> float:
    return 0.5 * (1.0 + math.erf(z / math.sqrt(2.0)))


def test_lognormal_band_probability_by_hand():
    # spot 100, 20 vol, one year, r = q = 0: ln S_T ~ N(ln 100 - 0.02, 0.2^2)
    # P(90 <= S_T <= 110) = Phi((ln 1.1 + 0.02) / 0.2) - Phi((ln 0.9 + 0.02) / 0.2) (lo nudged by 1e-9 x 90)
    lo = 90.0 - 1e-9 * 90.0
    expected = _phi((math.log(1.1) + 0.02) / 0.2) - _phi((math.log(lo / 100.0) + 0.02) / 0.2)
    got = lognormal_band_probabilities([90.0], [110.0], [100.0], [0.2], [1.0])
    assert got.shape == (1,)
    assert got[0] == pytest.approx(expected, abs=1e-14)
    assert got[0] == pytest.approx(0.7178 - 0.3348, abs=2e-4)  # Phi(0.5766) - Phi(-0.4268) from a table


def test_a_zero_width_distribution_is_a_step_at_the_forward():
    # no vol (or no time): the close is the forward, inside the band or not
    got = lognormal_band_probabilities([99.0, 101.0, 99.0], [101.0, 102.0, 101.0], [100.0, 100.0, 100.0],
                                       [0.0, 0.2, np.nan], [0.5, 0.0, 0.5])
    assert got.tolist() == [1.0, 0.0, 1.0]


@settings(max_examples=200, deadline=None)
@given(spot=st.floats(1.0, 6000.0), atm_iv=st.floats(0.01, 3.0), t=st.floats(0.0, 0.01),
       center=st.floats(-0.1, 0.1), half=st.floats(1e-4, 0.05), r=st.floats(-0.01, 0.08), q=st.floats(0.0, 0.05))
def test_vectorized_band_probability_equals_the_per_bar_lognormal_cdf(spot, atm_iv, t, center, half, r, q):
    magnet = spot * (1.0 + center)
    lo, hi = magnet - spot * half, magnet + spot * half
    one = _prob_between(lambda x: lognormal_close_cdf(x, spot, atm_iv, t, r, q), lo, hi)
    got = lognormal_band_probabilities([lo], [hi], [spot], [atm_iv], [t], r, q)[0]
    assert abs(got - one) <= 1e-12


@pytest.fixture(scope="module")
def regression_book():
    """The fixed regression day (tests/data/engine_regression) played through the engine: 781 filled
    30 s samples, the last at the close; r = 4.5 %, q = 1.2 %."""
    chain, batches = load_day()
    engine = FlowEngine(EngineParams(), session_bounds=session_bounds_ns)
    engine.apply(chain)
    for batch in batches:
        engine.apply(batch)
    return engine.books["SPY"]


def _both_paths(book, calibration):
    smp, ser = book.sampler, book.sampler.series
    slots = np.flatnonzero(smp.filled & np.isfinite(ser["magnet"]))
    params = EngineParams()
    common = dict(r=book.r, q=book.q, params=params, calibration=calibration)
    fast = snapshot_view.pin_probabilities_at(
        book.strikes, book.is_call, smp.iv[slots].astype(np.float64), spot=ser["spot"][slots],
        t_ns=smp.slot_time_ns(slots), close_ns=book.expiry_close_ns, atm_iv=ser["atm_iv"][slots],
        magnet=ser["magnet"][slots], net_gex=ser["net_gex"][slots], gross_gex=ser["gross_gex"][slots],
        pin_score=ser["pin_score"][slots], **common)
    one = []
    for k in slots:
        v = snapshot_view.pin_probability_at(
            book.strikes, book.is_call, smp.iv[k].astype(np.float64), spot=ser["spot"][k],
            t_ns=int(smp.slot_time_ns(k)), close_ns=book.expiry_close_ns, atm_iv=ser["atm_iv"][k],
            magnet=ser["magnet"][k], net_gex=ser["net_gex"][k], gross_gex=ser["gross_gex"][k],
            pin_score=ser["pin_score"][k], **common)
        one.append(np.nan if v is None else v)
    return slots, fast, np.array(one)


def test_every_bar_of_the_regression_day_equals_the_per_bar_definition(regression_book):
    slots, fast, one = _both_paths(regression_book, None)
    assert len(slots) == 781
    assert np.array_equal(np.isnan(fast), np.isnan(one)) and np.isfinite(one).sum() == 781
    np.testing.assert_allclose(fast, one, rtol=0, atol=1e-12)
    assert fast[-1] in (0.0, 1.0)  # the sample at the close resolves, as the snapshot does


def test_bars_where_a_calibration_selects_the_model_take_the_model(regression_book):
    # a calibration fitted on made-up pairs, selected for pin in two of the four time-to-close buckets:
    # those bars carry the calibrated smile model, the others the baseline, as in the snapshot
    pred = np.linspace(0.05, 0.95, 40)
    cal = fit_calibration({"pin": (pred, (pred > 0.4).astype(float))}).with_selection(
        {"pin": {HORIZON_LABELS[0]: {"n": 50, "use_model": True}, HORIZON_LABELS[2]: {"n": 50, "use_model": True}}})
    _, fast, one = _both_paths(regression_book, cal)
    _, baseline, _ = _both_paths(regression_book, None)
    np.testing.assert_allclose(fast, one, rtol=0, atol=1e-12)
    assert (np.abs(fast - baseline) > 1e-6).sum() > 50  # the model bars really differ from the baseline
