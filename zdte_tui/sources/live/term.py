"""Vol context of the live adapters: the next-week expiry's ATM IV from the vendor's REST quotes.

An adapter that can list a later expiry's quotes implements ``_fetch_term_rows`` (a REST call:
Massive's chain snapshot over a date range, Tradier's expirations + chain, the Theta Terminal's
expiration list + bulk quote snapshot) and returns :class:`TermRow` rows. The base class polls it
every ``term_vol_interval_s`` (5 minutes) once spot is known and emits a :class:`VolContext` built
here with the one rule every source uses (:func:`zdte_tui.market.term.term_vol_context`, docs/model.md
"Vol context"): each row's implied vol is solved from its NBBO mid (bid > 0, ask >= bid) with
``T`` = time from now to 16:00 ET of its expiry (ACT/365), rate ``rate`` and no dividend, as the
DBN importer does; the term expiry is the listed one nearest 7 calendar days; its ATM IV is the
mean of the call and put IV at the strike nearest spot. A fetch that fails is reported as a
``FeedStatus`` error naming the reason; the snapshot's ``vol_context`` then stays null and its
description says the source carries no next-week expiry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np

from zdte_tui.engine.greeks import implied_vol
from zdte_tui.market.calendar import et_clock_to_ns
from zdte_tui.market.events import VolContext
from zdte_tui.market.term import term_vol_context

NS_PER_YEAR = 365 * 24 * 3600 * 1_000_000_000
DEFAULT_TERM_RATE = 0.04  # the DBN importer's rate; immaterial at the week's horizon next to the spread
DEFAULT_TERM_VOL_INTERVAL_S = 300.0
TERM_WINDOW_DAYS = 14  # later expiries asked for: the one nearest 7 days is within two weeks


@dataclass(frozen=True, slots=True)
class TermRow:
    """One later-expiry contract's quote from a REST reply."""

    expiry: date
    strike: float
    is_call: bool
    bid: float
    ask: float


def term_context(underlying: str, now_ns: int, session_date: date, spot: float, rows: Sequence[TermRow],
                 *, rate: float = DEFAULT_TERM_RATE, origin: str) -> VolContext:
    """The :class:`VolContext` of ``rows`` at ``now_ns`` (see the module docstring)."""
    n = len(rows)
    if not n:
        return VolContext(underlying=underlying, ts_ns=int(now_ns), origin=origin)
    exp = [r.expiry for r in rows]
    strikes = np.array([r.strike for r in rows], dtype=np.float64)
    is_call = np.array([r.is_call for r in rows], dtype=bool)
    bid = np.array([r.bid for r in rows], dtype=np.float64)
    ask = np.array([r.ask for r in rows], dtype=np.float64)
    closes = {e: et_clock_to_ns(e, "16:00") for e in set(exp)}
    t = np.array([max(closes[e] - now_ns, 0) / NS_PER_YEAR for e in exp])
    ok = np.isfinite(bid) & np.isfinite(ask) & (bid > 0) & (ask >= bid)
    mid = np.where(ok, (bid + ask) / 2, np.nan)
    ivs = implied_vol(is_call, mid, spot, strikes, t, rate, 0.0)
    return term_vol_context(underlying, now_ns, session_date, spot, exp, strikes, is_call, ivs, origin=origin)
