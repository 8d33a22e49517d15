"""The ET session calendar: XNYS sessions, early closes, DST, and 0DTE listing rules."""

import json
import os
import subprocess
import sys
import warnings
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zdte_tui.market import calendar as cal
from zdte_tui.market.calendar import (
    DAILY_ZERO_DTE,
    ET,
    default_session_date,
    et_clock_to_ns,
    has_zero_dte,
    is_early_close,
    is_trading_day,
    next_trading_day,
    next_zero_dte_expiry,
    ns_to_et,
    previous_trading_day,
    session_bounds,
    session_bounds_ns,
    trading_days,
)

NS = 1_000_000_000
UTC = UTC
WEEKLY = {"TSLA": ["mon", "wed", "fri"], "AAPL": ["fri"]}


@pytest.fixture(autouse=True, scope="module")
def private_cache_dir(tmp_path_factory):
    """Keep the session-table cache out of the user's home and start from an empty table."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("xdg-cache")))
        cal._reset_cache()
        yield
    cal._reset_cache()


def utc_ns(*args) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp()) * NS


# ---------------------------------------------------------------- holidays and sessions


@pytest.mark.parametrize(
    "closed_day, why",
    [
        (date(2025, 12, 25), "Christmas"),
        (date(2026, 7, 3), "Independence Day (Saturday 4 July) observed on Friday"),
        (date(2026, 4, 3), "Good Friday"),
        (date(2026, 1, 19), "Martin Luther King Jr. Day"),
        (date(2025, 1, 9), "national day of mourning for President Carter"),
        (date(2012, 10, 29), "Hurricane Sandy"),
        (date(2026, 6, 6), "Saturday"),
    ],
)
def test_exchange_closures_are_not_trading_days(closed_day, why):
    assert not is_trading_day(closed_day), why
    with pytest.raises(ValueError, match=closed_day.isoformat()):
        session_bounds(closed_day)


def test_regular_session_runs_0930_to_1600_et():
    open_et, close_et = session_bounds(date(2026, 6, 5))
    assert (open_et, close_et) == (
        datetime(2026, 6, 5, 9, 30, tzinfo=ET),
        datetime(2026, 6, 5, 16, 0, tzinfo=ET),
    )
    assert open_et.tzinfo is ET
    assert not is_early_close(date(2026, 6, 5))


@pytest.mark.parametrize("half_day", [date(2025, 11, 28), date(2025, 12, 24), date(2026, 11, 27)])
def test_half_days_close_at_1300_et(half_day):
    open_et, close_et = session_bounds(half_day)
    assert (open_et.hour, open_et.minute) == (9, 30)
    assert (close_et.hour, close_et.minute) == (13, 0)
    assert is_early_close(half_day)


def test_closed_day_is_not_an_early_close():
    assert not is_early_close(date(2025, 12, 25))


@pytest.mark.parametrize(
    "day, open_utc, close_utc",
    [
        (date(2026, 3, 6), utc_ns(2026, 3, 6, 14, 30), utc_ns(2026, 3, 6, 21, 0)),  # EST, UTC-5
        (date(2026, 3, 9), utc_ns(2026, 3, 9, 13, 30), utc_ns(2026, 3, 9, 20, 0)),  # EDT from 8 Mar
        (date(2025, 10, 31), utc_ns(2025, 10, 31, 13, 30), utc_ns(2025, 10, 31, 20, 0)),  # EDT
        (date(2025, 11, 3), utc_ns(2025, 11, 3, 14, 30), utc_ns(2025, 11, 3, 21, 0)),  # EST from 2 Nov
        (date(2025, 11, 28), utc_ns(2025, 11, 28, 14, 30), utc_ns(2025, 11, 28, 18, 0)),  # half day
    ],
)
def test_session_bounds_ns_are_utc_and_follow_dst(day, open_utc, close_utc):
    assert session_bounds_ns(day) == (open_utc, close_utc)


def test_sessions_match_exchange_calendars_day_by_day():
    import exchange_calendars

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas deprecation chatter inside exchange_calendars
        xnys = exchange_calendars.get_calendar("XNYS", start="2024-01-01", end="2027-12-31")
        expected = {
            ts.date(): (int(o.value), int(c.value))
            for ts, o, c in zip(xnys.sessions, xnys.opens, xnys.closes)
        }
    first, last = date(2024, 1, 1), date(2027, 12, 31)
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    got = {d: session_bounds_ns(d) for d in days if is_trading_day(d)}
    assert got == expected
    assert trading_days(date(2024, 1, 1), date(2027, 12, 31)) == sorted(expected)


# ---------------------------------------------------------------- neighbours and defaults


def test_neighbours_skip_weekends_and_holidays():
    assert previous_trading_day(date(2026, 4, 6)) == date(2026, 4, 2)  # Mon <- Thu (Good Friday)
    assert next_trading_day(date(2026, 4, 2)) == date(2026, 4, 6)
    assert next_trading_day(date(2026, 1, 16)) == date(2026, 1, 20)  # Fri -> Tue (MLK Monday)
    assert previous_trading_day(date(2026, 6, 5)) == date(2026, 6, 4)  # strictly before


def test_neighbours_cross_year_boundaries_outside_the_cached_window():
    assert previous_trading_day(date(2011, 1, 3)) == date(2010, 12, 31)
    assert next_trading_day(date(2030, 12, 31)) == date(2031, 1, 2)


def test_trading_days_is_inclusive_and_empty_when_reversed():
    assert trading_days(date(2026, 4, 1), date(2026, 4, 6)) == [
        date(2026, 4, 1), date(2026, 4, 2), date(2026, 4, 6)
    ]
    assert trading_days(date(2026, 4, 6), date(2026, 4, 1)) == []


@pytest.mark.parametrize(
    "now, expected",
    [
        (datetime(2026, 6, 5, 8, 0, tzinfo=ET), date(2026, 6, 5)),  # before the open: still today
        (datetime(2026, 6, 5, 23, 0, tzinfo=ET), date(2026, 6, 5)),
        (datetime(2026, 1, 18, 12, 0, tzinfo=ET), date(2026, 1, 16)),  # Sunday -> Friday
        (datetime(2026, 1, 19, 12, 0, tzinfo=ET), date(2026, 1, 16)),  # MLK Monday -> Friday
        (datetime(2026, 1, 20, 3, 0, tzinfo=UTC), date(2026, 1, 16)),  # still Monday 22:00 ET
        (datetime(2026, 1, 17, 10, 0), date(2026, 1, 16)),  # naive is read as ET
    ],
)
def test_default_session_date_is_today_or_the_last_trading_day(now, expected):
    assert default_session_date(now) == expected


# ---------------------------------------------------------------- ET clock


def test_et_clock_to_ns_handles_winter_and_summer():
    assert et_clock_to_ns(date(2026, 1, 16), "10:30") == utc_ns(2026, 1, 16, 15, 30)
    assert et_clock_to_ns(date(2026, 6, 5), "10:30") == utc_ns(2026, 6, 5, 14, 30)
    assert et_clock_to_ns(date(2026, 6, 5), "9:30:15") == utc_ns(2026, 6, 5, 13, 30, 15)
    assert et_clock_to_ns(date(2026, 6, 5), "09:30") == session_bounds_ns(date(2026, 6, 5))[0]


@pytest.mark.parametrize("bad", ["1030", "25:00", "10:60", "ten thirty", "10:30pm", "", "10:3"])
def test_et_clock_to_ns_rejects_bad_text_quoting_it(bad):
    with pytest.raises(ValueError, match=repr(bad)):
        et_clock_to_ns(date(2026, 6, 5), bad)


def test_ns_to_et_is_tz_aware_eastern():
    moment = ns_to_et(utc_ns(2026, 6, 5, 13, 30) + 123_456_789)
    assert moment == datetime(2026, 6, 5, 9, 30, 0, 123_456, tzinfo=ET)
    assert moment.utcoffset() == timedelta(hours=-4)


@settings(max_examples=200, deadline=None)
@given(
    st.dates(min_value=date(2016, 1, 1), max_value=date(2029, 12, 31)),
    st.integers(min_value=4, max_value=23),
    st.integers(min_value=0, max_value=59),
)
def test_et_clock_round_trips_through_ns(day, hour, minute):
    moment = ns_to_et(et_clock_to_ns(day, f"{hour:02d}:{minute:02d}"))
    assert (moment.date(), moment.hour, moment.minute, moment.second) == (day, hour, minute, 0)


@settings(max_examples=200, deadline=None)
@given(st.dates(min_value=date(2016, 1, 1), max_value=date(2029, 12, 31)))
def test_neighbours_are_the_nearest_trading_days(day):
    before, after = previous_trading_day(day), next_trading_day(day)
    assert before < day < after
    assert is_trading_day(before) and is_trading_day(after)
    between = [before + timedelta(days=i) for i in range(1, (after - before).days)]
    assert [d for d in between if is_trading_day(d)] == ([day] if is_trading_day(day) else [])


@settings(max_examples=100, deadline=None)
@given(st.dates(min_value=date(2016, 1, 1), max_value=date(2029, 12, 31)))
def test_every_session_opens_at_0930_et_whatever_the_utc_offset(day):
    if not is_trading_day(day):
        assert not has_zero_dte("SPY", day)
        return
    open_ns, close_ns = session_bounds_ns(day)
    offset_hours = -ns_to_et(open_ns).utcoffset() / timedelta(hours=1)  # 5 in winter, 4 in summer
    assert open_ns == utc_ns(day.year, day.month, day.day, 9 + int(offset_hours), 30)
    assert close_ns - open_ns in (int(6.5 * 3600) * NS, int(3.5 * 3600) * NS)
    assert is_early_close(day) == (close_ns - open_ns == int(3.5 * 3600) * NS)


# ---------------------------------------------------------------- 0DTE listings


def test_daily_roots_have_zero_dte_every_trading_day_and_never_on_holidays():
    for root in DAILY_ZERO_DTE:
        assert has_zero_dte(root, date(2026, 6, 2))  # a Tuesday
        assert not has_zero_dte(root, date(2026, 4, 3))  # Good Friday
    assert has_zero_dte("spy", date(2026, 6, 2))  # case-insensitive


def test_weekly_names_expire_on_their_listed_weekdays_only():
    assert has_zero_dte("AAPL", date(2026, 6, 5), WEEKLY)  # Friday
    assert not has_zero_dte("AAPL", date(2026, 6, 3), WEEKLY)  # Wednesday
    assert has_zero_dte("TSLA", date(2026, 6, 3), WEEKLY)
    assert not has_zero_dte("TSLA", date(2026, 6, 4), WEEKLY)  # Thursday
    assert not has_zero_dte("AAPL", date(2026, 6, 5))  # no weekly mapping given


def test_expiry_on_a_holiday_moves_to_the_previous_trading_day():
    # Good Friday 2026-04-03: the Friday expiry is listed on Thursday 2026-04-02
    assert has_zero_dte("AAPL", date(2026, 4, 2), WEEKLY)
    # MLK Monday 2026-01-19: TSLA's Monday expiry rolls back onto Friday 2026-01-16
    assert has_zero_dte("TSLA", date(2026, 1, 16), WEEKLY)
    assert not has_zero_dte("TSLA", date(2026, 1, 20), WEEKLY)  # Tuesday gains nothing


def test_weekday_names_may_be_spelled_in_full_or_any_case():
    assert has_zero_dte("NVDA", date(2026, 6, 5), {"nvda": ["Friday"]})
    with pytest.raises(ValueError, match="'sat'"):
        has_zero_dte("NVDA", date(2026, 6, 5), {"NVDA": ["sat"]})
    with pytest.raises(ValueError, match="'funday'"):
        has_zero_dte("NVDA", date(2026, 6, 5), {"NVDA": ["funday"]})


def test_next_expiry_for_spy_on_a_saturday_skips_the_weekend_and_holiday_monday():
    assert next_zero_dte_expiry("SPY", date(2026, 1, 17)) == date(2026, 1, 20)  # MLK Monday shut
    assert next_zero_dte_expiry("SPY", date(2026, 6, 6)) == date(2026, 6, 8)


def test_next_expiry_includes_today_only_when_asked():
    assert next_zero_dte_expiry("SPY", date(2026, 6, 5)) == date(2026, 6, 8)
    assert next_zero_dte_expiry("SPY", date(2026, 6, 5), include_today=True) == date(2026, 6, 5)


def test_next_expiry_for_a_weekly_name_honours_holiday_rollback():
    assert next_zero_dte_expiry("AAPL", date(2026, 6, 1), WEEKLY) == date(2026, 6, 5)
    assert next_zero_dte_expiry("AAPL", date(2026, 3, 28), WEEKLY) == date(2026, 4, 2)
    assert next_zero_dte_expiry("TSLA", date(2026, 6, 1), WEEKLY) == date(2026, 6, 3)


def test_unknown_symbol_has_no_zero_dte():
    assert next_zero_dte_expiry("ZZZZ", date(2026, 6, 1), WEEKLY) is None
    assert next_zero_dte_expiry("TSLA", date(2026, 6, 1)) is None  # weekly map not given
    assert not has_zero_dte("ZZZZ", date(2026, 6, 5), WEEKLY)


# ---------------------------------------------------------------- the session-table cache


def cache_files():
    return sorted((cal._cache_dir()).glob("xnys-*.json"))


def test_first_use_writes_a_cache_table_keyed_by_the_calendar_version(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    stale = tmp_path / "zdte" / "xnys-0000000000000000-2000-2001.json"
    stale.parent.mkdir()
    stale.write_text("{}")
    cal._reset_cache()
    try:
        assert is_trading_day(date(2026, 6, 5))
        (written,) = cache_files()
        raw = json.loads(written.read_text())
        assert raw["calendar"] == "XNYS" and written.name.startswith(f"xnys-{raw['fingerprint']}-")
        assert date.fromordinal(raw["sessions"][0]).year == raw["start_year"]
        assert not stale.exists()  # tables of other calendar versions are dropped
    finally:
        cal._reset_cache()


def test_a_corrupt_cache_table_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cal._reset_cache()
    expected = session_bounds_ns(date(2025, 11, 28))
    (written,) = cache_files()
    written.write_text("{not json")
    cal._reset_cache()
    try:
        assert session_bounds_ns(date(2025, 11, 28)) == expected
        assert json.loads(written.read_text())["sessions"]  # rewritten
    finally:
        cal._reset_cache()


def test_a_warm_cache_answers_without_importing_pandas(tmp_path):
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path))
    probe = (
        "import sys, datetime\n"
        "from zdte_tui.market import calendar as cal\n"
        "from zdte_tui.market.calendar import session_bounds_ns, is_early_close\n"
        "cal.SHIPPED_TABLE = cal.SHIPPED_TABLE.with_name('absent.json')  # as if no table were shipped\n"
        "b = session_bounds_ns(datetime.date(2025, 11, 28))\n"
        "print(b, is_early_close(datetime.date(2025, 11, 28)),"
        " 'pandas' in sys.modules, 'exchange_calendars' in sys.modules)\n"
    )
    run = lambda: subprocess.run(  # noqa: E731
        [sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True
    ).stdout.split()
    cold, warm = run(), run()
    assert cold[-2:] == ["True", "True"]  # first launch builds the table from exchange_calendars
    assert warm[-2:] == ["False", "False"]  # later launches read the cached table
    assert cold[:-2] == warm[:-2]
    assert warm[2] == "True"  # the early close survives the cache
