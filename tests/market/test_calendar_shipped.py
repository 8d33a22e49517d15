"""The session table shipped with the package (zdte_tui/market/xnys_sessions.json): the first launch on
a new machine reads its window from it instead of importing exchange_calendars (issue 17, "Fast
start"); it is exactly what exchange_calendars builds, and anything it cannot answer is built as before."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date

import pytest

from zdte_tui.market import calendar as cal


@pytest.fixture(autouse=True)
def private_cache_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    cal._reset_cache()
    yield
    cal._reset_cache()


def test_the_shipped_table_is_built_from_the_installed_calendar_and_equals_a_fresh_build():
    raw = json.loads(cal.SHIPPED_TABLE.read_text())
    assert (raw["start_year"], raw["end_year"]) == cal.SHIPPED_YEARS
    # a different fingerprint means exchange_calendars changed: the table is then never used (see the
    # module doc); regenerate it with `python -m zdte_tui.market.calendar`
    assert raw["fingerprint"] == cal._calendar_fingerprint(), f"stale: built from {raw['built_from']}"
    shipped = cal._shipped_window(raw["fingerprint"], *cal.SHIPPED_YEARS)
    fresh = cal._build_from_exchange_calendars(*cal.SHIPPED_YEARS)
    assert shipped == fresh
    assert len(shipped.ordinals) > 21 * 250


def test_a_window_is_the_shipped_sessions_of_those_years():
    fp = cal._calendar_fingerprint()
    window = cal._shipped_window(fp, 2025, 2026)
    assert window == cal._build_from_exchange_calendars(2025, 2026)
    # by hand: 2025-11-28 (the day after Thanksgiving) closes at 13:00 ET = 18:00 UTC
    o = date(2025, 11, 28).toordinal()
    assert window.bounds_ns[o][1] - window.bounds_ns[o][0] == int(3.5 * 3600) * 10**9
    assert date(2025, 12, 25).toordinal() not in window.bounds_ns  # Christmas


def test_years_outside_it_or_another_calendar_version_are_not_read_from_it():
    fp = cal._calendar_fingerprint()
    lo, hi = cal.SHIPPED_YEARS
    assert cal._shipped_window(fp, lo - 1, hi) is None
    assert cal._shipped_window(fp, lo, hi + 1) is None
    assert cal._shipped_window("0000000000000000", lo, hi) is None


def test_a_date_outside_the_shipped_years_is_built_from_exchange_calendars():
    later = date(cal.SHIPPED_YEARS[1] + 1, 6, 5)  # a Thursday
    assert cal.is_trading_day(later)
    assert cal._table_for(later).end_year == later.year
    assert cal._table_for(later) == cal._build_from_exchange_calendars(cal._table_for(later).start_year, later.year)


def test_an_unreadable_shipped_table_falls_back_to_exchange_calendars(tmp_path, monkeypatch):
    bad = tmp_path / "xnys_sessions.json"
    bad.write_text("{not json")
    monkeypatch.setattr(cal, "SHIPPED_TABLE", bad)
    assert cal._shipped_window(cal._calendar_fingerprint(), 2025, 2026) is None
    assert cal.session_bounds_ns(date(2025, 11, 28)) == cal._build_from_exchange_calendars(2025, 2025).bounds_ns[
        date(2025, 11, 28).toordinal()]


def test_the_first_launch_reads_the_shipped_table_without_pandas(tmp_path):
    probe = ("import sys, datetime\n"
             "from zdte_tui.market import calendar as cal\n"
             "if sys.argv[1] == 'no-shipped': cal.SHIPPED_TABLE = cal.SHIPPED_TABLE.with_name('absent.json')\n"
             "print(cal.session_bounds_ns(datetime.date(2025, 11, 28)), 'pandas' in sys.modules)\n")

    def run(mode: str, cache: str) -> list[str]:
        env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / cache))
        return subprocess.run([sys.executable, "-c", probe, mode], env=env, capture_output=True, text=True,
                              check=True).stdout.split()

    shipped, built = run("shipped", "a"), run("no-shipped", "b")
    assert shipped[-1] == "False" and built[-1] == "True"
    assert shipped[:-1] == built[:-1]
    assert list((tmp_path / "a" / "zdte").glob("xnys-*.json"))  # the window is cached as before
