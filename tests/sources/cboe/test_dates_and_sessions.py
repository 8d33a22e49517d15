"""The Date: line in every form real downloads use, and which session/expiry/time a file is valued at.

Session facts (XNYS): 2023-04-07 was Good Friday (closed); 2023-11-24 closed at 13:00 (half day);
2023-09-15 was a third Friday."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.engine import ref_bs
from zdte_tui.market.calendar import ET
from zdte_tui.sources.cboe import parity_spot, parse_cboe_date, plan_snapshot


@pytest.mark.parametrize("text, expected, zone", [
    # the forms named in issue 11 and the ones found in public downloads (tests/data/cboe/README.md)
    ('"Date: June 11, 2022, 8:47 PM EDT"', datetime(2022, 6, 11, 20, 47), "EDT"),
    ("Date: 8 June 2023 7:56 PM EDT", datetime(2023, 6, 8, 19, 56), "EDT"),
    ("Date: 9 June 2023, 1:40 PM EDT", datetime(2023, 6, 9, 13, 40), "EDT"),
    ("Date: February 5 2022, 8:09 PM EST", datetime(2022, 2, 5, 20, 9), "EST"),
    ("Date: 23 de marzo de 2022, 10:11 GMT-4", datetime(2022, 3, 23, 10, 11), "GMT-4"),
    ("Date: 11 de noviembre de 2024, 8:02 GMT-5", datetime(2024, 11, 11, 8, 2), "GMT-5"),
    ("Date: 5 April 2023, 19:41 UTC\u22124", datetime(2023, 4, 5, 19, 41), "UTC-4"),
    ("Date: 9 декабря 2023 г. в 13:49 GMT-5", datetime(2023, 12, 9, 13, 49), "GMT-5"),
    ("Date: January 6, 2025 at 8:57 PM EST", datetime(2025, 1, 6, 20, 57), "EST"),
    ("Date: 6 January 2025 at 8:57 PM EST", datetime(2025, 1, 6, 20, 57), "EST"),
    ("Date: 24 September 2023,1:46 PM EDT", datetime(2023, 9, 24, 13, 46), "EDT"),
    ("Date: 2026年3月19日 GMT-4 10:30", datetime(2026, 3, 19, 10, 30), "GMT-4"),
    ("Date: June 5, 2026 at 10:15 AM", datetime(2026, 6, 5, 10, 15), ""),  # no zone: US Eastern
])
def test_every_real_date_form_reads_as_the_same_eastern_time(text, expected, zone):
    when, written = parse_cboe_date(text)
    assert when == expected.replace(tzinfo=ET) and written == zone


def test_a_zone_other_than_eastern_is_converted():
    # 14:00 GMT-6 (Central, winter) is 15:00 ET; 18:00 UTC in June is 14:00 EDT
    assert parse_cboe_date("Date: January 6, 2025 at 2:00 PM GMT-6")[0] == datetime(2025, 1, 6, 15, 0, tzinfo=ET)
    assert parse_cboe_date("Date: June 6, 2025 at 6:00 PM UTC")[0] == datetime(2025, 6, 6, 14, 0, tzinfo=ET)


@pytest.mark.parametrize("text, reason", [
    ("Date: 4 June 4, 3:15 PM EDT", "4-digit year"),  # a real download (tests/data/cboe/spy_bad-date-line.csv)
    ("Date: June 11, 2022", "HH:MM"),
    ("Date: Smarch 11, 2022, 8:47 PM EDT", "not a date"),
])
def test_unreadable_dates_say_why(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse_cboe_date(text)


# ------------------------------------------------------------------------------ sessions
def et(*a) -> datetime:
    return datetime(*a, tzinfo=ET)


FRI, MON = date(2023, 9, 15), date(2023, 9, 18)
EXPIRIES = [date(2023, 9, 14), FRI, MON]


def test_file_saved_during_the_session_is_valued_at_its_own_time():
    p = plan_snapshot(et(2023, 9, 15, 11, 55), EXPIRIES)
    assert (p.expiry, p.valuation_time, p.quote_time, p.projected, p.zero_dte) == (
        FRI, et(2023, 9, 15, 11, 55), et(2023, 9, 15, 11, 55), False, True)
    assert p.label == "DELAYED SNAPSHOT of 2023-09-15 11:55 ET"


def test_evening_file_is_projected_to_the_next_open_with_quotes_struck_at_the_close():
    p = plan_snapshot(et(2023, 9, 14, 20, 47), EXPIRIES)
    assert (p.session, p.expiry, p.quote_time, p.valuation_time) == (
        FRI, FRI, et(2023, 9, 14, 16, 0), et(2023, 9, 15, 9, 30))
    assert p.label == "DELAYED SNAPSHOT of 2023-09-14 20:47 ET - projected to the 2023-09-15 open"


def test_weekend_and_pre_open_files_take_the_previous_close_and_the_coming_open():
    sat = plan_snapshot(et(2023, 9, 16, 13, 49), EXPIRIES)
    assert (sat.expiry, sat.quote_time, sat.valuation_time) == (MON, et(2023, 9, 15, 16, 0), et(2023, 9, 18, 9, 30))
    pre = plan_snapshot(et(2023, 9, 18, 8, 2), EXPIRIES)
    assert (pre.expiry, pre.quote_time, pre.valuation_time) == (MON, et(2023, 9, 15, 16, 0), et(2023, 9, 18, 9, 30))


def test_holidays_and_half_days_come_from_the_calendar():
    # Thursday 2023-04-06 evening: Good Friday is closed, the next session is Monday 2023-04-10
    p = plan_snapshot(et(2023, 4, 6, 19, 41), [date(2023, 4, 6), date(2023, 4, 10)])
    assert (p.expiry, p.valuation_time) == (date(2023, 4, 10), et(2023, 4, 10, 9, 30))
    # 2023-11-24 closed at 13:00: a file saved at 14:00 is after the close, its quotes struck at 13:00
    h = plan_snapshot(et(2023, 11, 24, 14, 0), [date(2023, 11, 24), date(2023, 11, 27)])
    assert (h.quote_time, h.expiry) == (et(2023, 11, 24, 13, 0), date(2023, 11, 27))


def test_at_and_expiry_options():
    p = plan_snapshot(et(2023, 9, 14, 20, 47), EXPIRIES, at=time(10, 30))
    assert p.valuation_time == et(2023, 9, 15, 10, 30)
    assert p.label.endswith("projected to the 2023-09-15 10:30 ET")
    q = plan_snapshot(et(2023, 9, 14, 20, 47), EXPIRIES, expiry=MON)  # a later expiry, valued in the same session
    assert (q.session, q.expiry, q.valuation_time, q.zero_dte) == (FRI, MON, et(2023, 9, 15, 9, 30), False)
    with pytest.raises(ValueError, match="outside the 2023-09-15 session"):
        plan_snapshot(et(2023, 9, 14, 20, 47), EXPIRIES, at=time(17, 0))
    with pytest.raises(ValueError, match="not in the file"):
        plan_snapshot(et(2023, 9, 14, 20, 47), EXPIRIES, expiry=date(2023, 9, 19))
    with pytest.raises(ValueError, match="expired before the file was saved"):
        plan_snapshot(et(2023, 9, 14, 20, 47), EXPIRIES, expiry=date(2023, 9, 14))


def test_missing_next_session_expiry_uses_the_next_listed_one_and_says_it_is_not_0dte():
    p = plan_snapshot(et(2025, 9, 25, 21, 5), [date(2025, 10, 1), date(2025, 10, 2)])
    assert (p.session, p.expiry, p.zero_dte) == (date(2025, 9, 26), date(2025, 10, 1), False)
    assert p.valuation_time == et(2025, 9, 26, 9, 30)  # the next session's open, time to expiry to Oct 1 16:00
    assert "no 2025-09-26 expiry in the file" in p.note


# ------------------------------------------------------------------------------ parity spot
def test_parity_spot_hand_case():
    # K=100: C 3.00/3.10, P 1.00/1.10 -> F = 100 + 2.00 = 102; K=101: C 2.40/2.50, P 1.40/1.50 -> 102.0
    ps = parity_spot(100.0, [100.0, 101.0], [3.0, 2.4], [3.1, 2.5], [1.0, 1.4], [1.1, 1.5], t_years=0.0)
    assert ps.parity == pytest.approx(102.0) and ps.tolerance == pytest.approx(0.1)
    assert ps.used == "parity" and ps.spot == pytest.approx(102.0)  # |102 - 100| > 0.1
    close = parity_spot(101.95, [100.0, 101.0], [3.0, 2.4], [3.1, 2.5], [1.0, 1.4], [1.1, 1.5], t_years=0.0)
    assert close.used == "last" and close.spot == 101.95  # within the quotes' width


def test_parity_spot_needs_two_quoted_strikes():
    ps = parity_spot(100.0, [100.0], [3.0], [3.1], [1.0], [1.1], t_years=0.0)
    assert ps.parity is None and ps.used == "last"


@settings(max_examples=60, deadline=None, derandomize=True)
@given(S=st.floats(50, 6000), sigma=st.floats(0.05, 0.8), hours=st.floats(1, 100),
       r=st.floats(0, 0.06), q=st.floats(0, 0.03))
def test_parity_spot_recovers_the_spot_a_chain_was_priced_at(S, sigma, hours, r, q):
    """Property: quotes priced with Black-Scholes at spot S (mid +- 1 cent) give back S within
    the rounding of the mids, whatever the Last says."""
    t = hours / (365 * 24)
    step = S / 200
    strikes = [round(S / step) * step + i * step for i in range(-3, 4)]
    c = [ref_bs.price(True, S, k, t, r, q, sigma) for k in strikes]
    p = [ref_bs.price(False, S, k, t, r, q, sigma) for k in strikes]
    ps = parity_spot(S * 0.99, strikes, [max(x - 0.01, 0.01) for x in c], [max(x - 0.01, 0.01) + 0.02 for x in c],
                     [max(x - 0.01, 0.01) for x in p], [max(x - 0.01, 0.01) + 0.02 for x in p], t_years=t, r=r, q=q)
    if ps.parity is not None:
        assert ps.parity == pytest.approx(S, abs=0.03)
