"""Option-root facts: one table, read alike by every source."""

import string

from hypothesis import given
from hypothesis import strategies as st

from zdte_tui.market.calendar import DAILY_ZERO_DTE
from zdte_tui.market.roots import (
    DAILY_EXPIRY_SYMBOLS,
    INDEX_SYMBOLS,
    ROOTS,
    feed_names,
    is_index,
    same_day_root,
    settlement_of,
    underlying_of_root,
)


def test_index_weeklies_are_pm_settled_and_monthlies_am_settled():
    assert [settlement_of(r) for r in ("SPXW", "NDXP", "RUTW", "XSP")] == ["PM"] * 4
    assert [settlement_of(r) for r in ("SPX", "NDX", "RUT")] == ["AM"] * 3


def test_vix_options_settle_on_the_opening_quotation_weeklies_too():
    assert settlement_of("VIX") == settlement_of("VIXW") == "AM"


def test_same_day_contracts_of_an_index_trade_under_its_weekly_root():
    assert same_day_root("SPX") == "SPXW"
    assert same_day_root("ndx") == "NDXP"
    assert same_day_root("RUT") == "RUTW"
    assert same_day_root("XSP") == "XSP"
    assert same_day_root("SPY") == "SPY"


def test_weekly_roots_map_back_to_their_index():
    assert underlying_of_root("SPXW") == "SPX"
    assert underlying_of_root("NDXP") == "NDX"
    assert underlying_of_root("RUTW") == "RUT"
    assert underlying_of_root("VIXW") == "VIX"


def test_indices_use_the_index_feeds_and_etfs_the_equity_feeds():
    assert feed_names("SPX") == ("index_feed", "index_options_feed")
    assert feed_names("XSP") == ("index_feed", "index_options_feed")
    assert feed_names("SPY") == ("equity_feed", "equity_options_feed")
    assert is_index("spxw") and not is_index("QQQ")


def test_every_root_in_the_table_is_an_index_root_of_a_known_index():
    for root in ROOTS.values():
        assert root.is_index and root.underlying in INDEX_SYMBOLS
        assert same_day_root(root.underlying) in ROOTS


def test_calendar_lists_daily_expiries_from_the_same_table():
    assert DAILY_ZERO_DTE is DAILY_EXPIRY_SYMBOLS


@given(st.text(alphabet=string.ascii_uppercase, min_size=1, max_size=5).filter(lambda s: s not in ROOTS))
def test_an_unknown_root_is_an_equity_root_its_own_underlying_and_pm_settled(root):
    assert underlying_of_root(root) == root
    assert settlement_of(root) == "PM"
    assert same_day_root(root) == root
