"""Cboe delayed-quotes "quotedata.csv" loader and snapshot source.

Layout (3 preamble lines, then a header with calls and puts side by side) taken from a
public copy of a real download, github.com/DorelRoata/Option-Gamma-Exposure--zero-gamma-level
``spx_quotedata.csv`` (blank first line; ``SP 500 INDEX,Last: 5975.3799,Change: 32.9099``;
``"Date: January 6, 2025 at 8:57 PM EST",Bid: ...``; header ``Expiration Date,Calls,Last
Sale,Net,Bid,Ask,Volume,IV,Delta,Gamma,Open Interest,Strike,Puts,...``; expiry
``Tue Jan 07 2025``; compact OCC symbols; IV as a fraction), and from the perfiliev-style
GEX scripts that parse it (spot from ``Last:``, date from ``Date: ... at``, GEX per strike =
gamma x OI x 100 x S^2 x 0.01, calls positive, puts negative). The source page is
https://www.cboe.com/delayed_quotes/ (quote table download). ``tests/data/cboe/handbuilt_spy_quotedata.csv``
is hand-built in that layout; the real downloads are tested in test_real_chains.py.
"""

from __future__ import annotations

import math
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest

from zdte_tui.market.calendar import ET
from zdte_tui.market.events import ChainDefinition, EventBatch, FeedStatus
from zdte_tui.sources.cboe import CboeFormatError, CboeSnapshotSource, load_cboe_chain

DATA = Path(__file__).parents[2] / "data" / "cboe" / "handbuilt_spy_quotedata.csv"
SPOT = 590.42


def test_preamble_spot_time_and_underlying():
    chain = load_cboe_chain(DATA)
    assert chain.underlying == "SPY" and chain.name == "SPDR S&P 500 ETF Trust"
    assert chain.last == SPOT and chain.change == 1.25
    assert chain.as_of == datetime(2026, 6, 5, 10, 15, tzinfo=ET)
    assert chain.expiries == [date(2026, 6, 5), date(2026, 6, 8)]
    assert len(chain.contracts) == 16 and chain.counts == {} and chain.rows_read == 8


def test_row_fields_are_read_exactly():
    chain = load_cboe_chain(DATA)
    c590 = next(c for c in chain.contracts if c.expiry == date(2026, 6, 5) and c.strike == 590 and c.is_call)
    p591 = next(c for c in chain.contracts if c.expiry == date(2026, 6, 5) and c.strike == 591 and not c.is_call)
    assert (c590.symbol, c590.occ) == ("SPY260605C00590000", "SPY   260605C00590000")
    assert (c590.last, c590.net, c590.bid, c590.ask) == (1.05, 0.42, 1.03, 1.07)
    assert (c590.volume, c590.iv, c590.delta, c590.gamma, c590.open_interest) == (51200, 0.1318, 0.5514, 0.1124, 7650)
    assert (p591.bid, p591.ask, p591.iv, p591.delta, p591.gamma, p591.open_interest) == (
        1.09, 1.13, 0.1389, -0.619, 0.1058, 5430)
    c592 = next(c for c in chain.contracts if c.expiry == date(2026, 6, 5) and c.strike == 592 and c.is_call)
    assert math.isnan(c592.last) and math.isnan(c592.net) and c592.bid == 0.20  # blank cells


def test_gex_inputs_match_hand_computed_per_strike_gex():
    """GEX_K = (gamma_call * OI_call - gamma_put * OI_put) * 100 * S^2 * 0.01, written out
    from the file's own gamma and OI columns; the loader must hand back exactly those inputs."""
    s2 = SPOT ** 2
    by_hand = {
        588.0: (0.0712 * 4210 - 0.0709 * 9876) * 100 * s2 * 0.01,   # ~ -139.6 M$ per 1 % move
        589.0: (0.0951 * 3980 - 0.0948 * 11020) * 100 * s2 * 0.01,  # ~ -232.2 M$
        590.0: (0.1124 * 7650 - 0.1121 * 12340) * 100 * s2 * 0.01,  # ~ -182.5 M$
        591.0: (0.1062 * 6120 - 0.1058 * 5430) * 100 * s2 * 0.01,   # ~  +26.3 M$
        592.0: (0.0843 * 8890 - 0.0841 * 2210) * 100 * s2 * 0.01,   # ~ +196.5 M$
    }
    assert by_hand[590.0] == pytest.approx(-182_473_853.54, rel=1e-9)
    chain = load_cboe_chain(DATA)
    rows = chain.for_expiry(date(2026, 6, 5))
    strikes = np.array([c.strike for c in rows])
    sign = np.where([c.is_call for c in rows], 1.0, -1.0)
    gex = sign * np.array([c.gamma for c in rows]) * np.array([c.open_interest for c in rows]) \
        * 100 * chain.last ** 2 * 0.01
    per_strike = {k: float(gex[strikes == k].sum()) for k in sorted(set(strikes))}
    assert per_strike == pytest.approx(by_hand, rel=1e-12)


async def test_snapshot_source_emits_definition_one_batch_and_ends():
    src = CboeSnapshotSource(DATA)
    assert src.name == "cboe" and not src.simulated and src.symbols == ("SPY",)
    assert src.expiry == date(2026, 6, 5)  # the file's own date: 0DTE
    assert src.label.startswith("DELAYED SNAPSHOT of 2026-06-05 10:15 ET")  # in session: not projected
    assert not src.plan.projected and src.spot.used == "last"
    events = [ev async for ev in src.events()]
    chain, batch = events[0], events[1]
    assert isinstance(chain, ChainDefinition) and isinstance(batch, EventBatch)
    assert chain.strikes.tolist() == [588.0, 588.0, 589.0, 589.0, 590.0, 590.0, 591.0, 591.0, 592.0, 592.0]
    assert chain.is_call.tolist() == [True, False] * 5
    assert chain.settled_oi.tolist() == [4210, 9876, 3980, 11020, 7650, 12340, 6120, 5430, 8890, 2210]
    assert chain.prev_close == pytest.approx(SPOT - 1.25)
    ts = int(src.chain.as_of.timestamp()) * 10**9
    assert ts == int(datetime(2026, 6, 5, 10, 15, tzinfo=ET).timestamp()) * 10**9
    assert batch.end_ns == ts and batch.spot.price.tolist() == [SPOT]
    assert batch.quotes.contract.tolist() == list(range(10))
    assert batch.quotes.bid.tolist()[4:6] == [1.03, 0.62] and batch.quotes.ask.tolist()[4:6] == [1.07, 0.64]
    assert len(batch.trades) == 0  # no prints are invented from the volume column
    feeds = {e.feed for e in events[2:] if isinstance(e, FeedStatus)}
    assert feeds == {"equity_feed", "equity_options_feed", "oi_feed"}


def test_explicit_expiry_and_missing_expiry():
    assert CboeSnapshotSource(DATA, expiry=date(2026, 6, 8)).expiry == date(2026, 6, 8)
    with pytest.raises(CboeFormatError, match="not in the file"):
        CboeSnapshotSource(DATA, expiry=date(2026, 6, 9))


def test_real_download_variant_without_blank_line_eu_date_and_index_root(tmp_path):
    text = (
        "SP 500 INDEX,Last: 5975.3799,Change:  32.9099\n"
        '"Date: 6 January 2025 at 8:57 PM EST",Bid: 5934.4302,Ask: 6032.4502,Size: 1*1,Volume: 0\n'
        + DATA.read_text().splitlines()[3] + "\n"
        "Tue Jan 07 2025,SPXW250107C05930000,54.24,24.4,49.4,50.4,176,0.1749,0.8223,0.0053,251,5930.00,"
        "SPXW250107P05930000,3.12,-16.1,4.7,4.9,4740,0.1753,-0.1777,0.0053,174\n"
        "Tue Jan 07 2025,SPXW250107C05935000,oops,20.17,45.2,46.2,175,0.1727,0.7974,0.0058,140,5935.00,"
        "SPXW250107P05935000,3.7,-17.4,5.4,5.7,7715,0.1738,-0.2026,0.0058,119\n"
        "Tue Jan 07 2025,SPXW250107C05940000,44.5\n")
    path = tmp_path / "spx_quotedata.csv"
    path.write_text(text)
    chain = load_cboe_chain(path)
    assert chain.underlying == "SPX" and chain.last == 5975.3799
    assert chain.as_of == datetime(2025, 1, 6, 20, 57, tzinfo=ET)
    assert len(chain.contracts) == 4  # the "oops" last sale is blanked and counted; the short row dropped
    assert chain.counts == {"defaulted:last_sale_unreadable_as_blank": 1, "dropped:short_row": 1}
    src = CboeSnapshotSource(path)
    assert src.expiry == date(2025, 1, 7)  # nearest expiry after the file's date


def test_not_a_cboe_file_is_rejected_with_the_reason(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(CboeFormatError, match=r"x.csv: line 1-2: no header row; expected 'Expiration Date"):
        load_cboe_chain(path)
