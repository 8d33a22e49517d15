"""The next-week expiry rule and the VolContext event (docs/model.md, "Vol context")."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from zdte_tui.market.events import VolContext
from zdte_tui.market.term import atm_iv_of_expiry, pick_term_expiry, term_vol_context

FRI = dt.date(2025, 6, 13)


def test_term_expiry_is_the_listed_expiry_nearest_seven_calendar_days():
    listed = [FRI, dt.date(2025, 6, 16), dt.date(2025, 6, 18), dt.date(2025, 6, 20), dt.date(2025, 6, 27)]
    assert pick_term_expiry(listed, FRI) == dt.date(2025, 6, 20)


def test_term_expiry_tie_goes_to_the_later_expiry_and_none_without_a_later_one():
    # 6 and 8 days out are equally near 7
    assert pick_term_expiry([dt.date(2025, 6, 19), dt.date(2025, 6, 21)], FRI) == dt.date(2025, 6, 21)
    assert pick_term_expiry([FRI, dt.date(2025, 6, 12)], FRI) is None


@given(st.lists(st.integers(1, 60), min_size=1, max_size=8))
def test_term_expiry_is_never_farther_from_seven_days_than_any_listed_expiry(days):
    listed = [FRI + dt.timedelta(days=d) for d in days]
    pick = pick_term_expiry(listed, FRI)
    assert all(abs((pick - FRI).days - 7) <= abs(d - 7) for d in days)


def test_atm_iv_is_the_mean_of_call_and_put_at_the_strike_nearest_spot():
    strikes = [600, 600, 605, 605, 610, 610]
    is_call = [True, False] * 3
    ivs = [0.20, 0.22, 0.17, 0.19, 0.15, 0.16]
    assert atm_iv_of_expiry(strikes, is_call, ivs, 604.0) == pytest.approx(0.18)
    # a NaN side falls back to the other side; no usable IV at all gives None
    assert atm_iv_of_expiry(strikes, is_call, [np.nan, 0.22, np.nan, 0.19, 0.15, 0.16], 604.0) == pytest.approx(0.19)
    assert atm_iv_of_expiry(strikes, is_call, [np.nan] * 6, 604.0) is None


def test_term_vol_context_reads_only_the_term_expiry_rows():
    exp = [FRI, FRI, dt.date(2025, 6, 20), dt.date(2025, 6, 20)]
    vc = term_vol_context("SPY", 1, FRI, 600.0, exp, [600, 600, 600, 600], [True, False, True, False],
                          [0.40, 0.42, 0.16, 0.18], vix=17.5, origin="cboe_chain")
    assert (vc.term_expiry, vc.term_atm_iv, vc.vix, vc.origin) == (dt.date(2025, 6, 20), pytest.approx(0.17), 17.5,
                                                                   "cboe_chain")


def test_a_chain_with_only_todays_expiry_gives_an_empty_vol_context():
    vc = term_vol_context("SPY", 1, FRI, 600.0, [FRI, FRI], [600, 600], [True, False], [0.4, 0.4])
    assert (vc.term_expiry, vc.term_atm_iv, vc.vix) == (None, None, None)


@pytest.mark.parametrize("bad", [0.0, -0.1, float("nan"), float("inf")])
def test_vol_context_rejects_non_positive_or_non_finite_vols(bad):
    with pytest.raises(ValueError, match="term_atm_iv"):
        VolContext("SPY", 1, term_atm_iv=bad)
