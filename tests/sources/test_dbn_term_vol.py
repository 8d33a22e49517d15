"""DBN import: a file set that also lists the next week's expiry feeds vol_context (docs/model.md,
"Vol context"). The next-week quotes are Black-Scholes prices at a known vol, so the imported ATM IV
must give that vol back."""

from __future__ import annotations

import datetime as dt

import databento_dbn as db
import numpy as np
import pytest

from zdte_tui.engine.greeks import bs_price
from zdte_tui.market.calendar import et_clock_to_ns
from zdte_tui.market.events import VolContext
from zdte_tui.sources.dbn_import import import_dbn
from zdte_tui.store.reader import Recording

from .test_dbn_import import (
    CLOSE,
    EXPIRY_MIDNIGHT_UTC,
    RATE,
    SESSION,
    STRIKES,
    T0,
    contracts,
    fixed,
    metadata,
    occ,
    true_spot,
    write_dbn,
)

S = 1_000_000_000
TERM = dt.date(2025, 2, 27)                      # 7 calendar days after the session
TERM_MIDNIGHT_UTC = int(dt.datetime(2025, 2, 27, tzinfo=dt.UTC).timestamp()) * S
TERM_CLOSE = et_clock_to_ns(TERM, "16:00")
TERM_VOL = 0.18
N_SECONDS = 700                                  # two 5-minute boundaries


def term_occ(strike: float, call: bool) -> str:
    return f"SPY   250227{'C' if call else 'P'}{int(strike * 1000):08d}"


def test_next_week_expiry_quotes_give_back_their_implied_vol(tmp_path):
    today = contracts()
    term = [(2000 + 2 * i + (0 if c else 1), k, c) for i, k in enumerate(STRIKES) for c in (True, False)]
    syms = [(occ(k, c), iid) for iid, k, c in today] + [(term_occ(k, c), iid) for iid, k, c in term]

    def definition(iid, k, c, expiration, raw):
        return db.InstrumentDefMsg(
            publisher_id=30, instrument_id=iid, ts_event=T0 - 3600 * S, ts_recv=T0 - 3600 * S,
            min_price_increment=db.UNDEF_PRICE, display_factor=db.UNDEF_PRICE, raw_symbol=raw, asset="SPY",
            security_type="OPT", instrument_class=db.InstrumentClass.CALL if c else db.InstrumentClass.PUT,
            security_update_action=db.SecurityUpdateAction.ADD, strike_price=fixed(k), expiration=expiration,
            underlying="SPY")

    defs = ([definition(iid, k, c, EXPIRY_MIDNIGHT_UTC, occ(k, c)) for iid, k, c in today]
            + [definition(iid, k, c, TERM_MIDNIGHT_UTC, term_occ(k, c)) for iid, k, c in term])
    quotes = []
    for sec in range(1, N_SECONDS + 1, 10):
        ts = T0 + sec * S
        spot = true_spot(sec)
        for iid, k, c in today + term:
            close = CLOSE if iid < 2000 else TERM_CLOSE
            t = (close - ts) / (365 * 24 * 3600 * S)
            mid = float(bs_price(np.array([c]), spot, k, t, RATE, 0.0, TERM_VOL if iid >= 2000 else 0.3)[0])
            quotes.append(db.CBBOMsg(
                rtype=db.RType.CBBO_1S, publisher_id=30, instrument_id=iid, ts_event=ts - 1000, price=db.UNDEF_PRICE,
                size=0, side=db.Side.NONE, ts_recv=ts,
                levels=db.ConsolidatedBidAskPair(bid_px=fixed(mid - 0.0001), ask_px=fixed(mid + 0.0001), bid_sz=10,
                                                 ask_sz=12, bid_pb=23, ask_pb=37)))
    equity = [db.TradeMsg(publisher_id=2, instrument_id=15144, ts_event=T0 + n * S, price=fixed(true_spot(n)),
                          size=100, action=db.Action.TRADE, side=db.Side.NONE, depth=0, ts_recv=T0 + n * S + 3)
              for n in range(1, N_SECONDS + 1, 10)]
    files = [write_dbn(tmp_path / "def.dbn", metadata(db.Schema.DEFINITION, syms), defs),
             write_dbn(tmp_path / "cbbo.dbn", metadata(db.Schema.CBBO_1S, syms), quotes),
             write_dbn(tmp_path / "spy.dbn", metadata(db.Schema.TRADES, [("SPY", 15144)], "XNAS.ITCH"), equity)]
    summary = import_dbn(files, tmp_path / "t.zdte", rate=RATE)
    rec = Recording.open(summary.out)
    assert rec.definitions["SPY"].expiry == SESSION          # today's chain is still the one tracked
    vols = [e for e in rec.events() if isinstance(e, VolContext)]
    assert len(vols) == 2 and all(v.term_expiry == TERM and v.origin == "dbn" for v in vols)
    assert [v.term_atm_iv for v in vols] == [pytest.approx(TERM_VOL, abs=1e-3)] * 2
    assert any("vol_context from the 2025-02-27 expiry" in n for n in summary.notes)
