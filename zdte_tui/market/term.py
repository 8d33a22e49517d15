"""The next-week expiry's ATM implied vol: the rule every source uses to fill :class:`VolContext`.

Sources that see more than today's expiry (a Cboe chain file, a DBN file with several expiries, a
live adapter subscribed to the next weekly) call :func:`term_vol_context` with the quotes of all
expiries they hold; the simulator uses :func:`simulated_term_atm_iv`. Pure numpy, no I/O.

Rules (docs/model.md, "Vol context"):

* **term expiry**: among the listed expiries strictly after the session date, the one whose
  calendar-day distance is nearest ``TERM_TARGET_DAYS = 7``; a tie goes to the later expiry. None
  when no later expiry is listed.
* **ATM IV of an expiry**: the mean of the call and put implied vols at the listed strike nearest
  spot (the lower strike on a tie), the same rule the engine applies to the 0DTE chain
  (``rows.atm_iv_rows``); None if neither has a usable IV (finite, > 0).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from zdte_tui.market.events import VolContext

TERM_TARGET_DAYS = 7
# Simulated term structure (docs/simulator.md, "Vol context"): the week is quoted 10% over the day's
# opening 0DTE vol in the simulator's trading-time units, converted to ACT/365 for 7 calendar days
# (= 5 sessions of a 252-session year).
SIM_TERM_PREMIUM = 0.10
SIM_TERM_TRADING_TO_ACT365 = math.sqrt((5.0 / 252.0) / (7.0 / 365.0))


def pick_term_expiry(expiries: Iterable[dt.date], session_date: dt.date,
                     target_days: int = TERM_TARGET_DAYS) -> dt.date | None:
    """The listed expiry after ``session_date`` nearest ``target_days`` calendar days (ties: later)."""
    later = sorted({e for e in expiries if e > session_date})
    if not later:
        return None
    return min(later, key=lambda e: (abs((e - session_date).days - target_days), -e.toordinal()))


def atm_iv_of_expiry(strikes: Any, is_call: Any, ivs: Any, spot: float) -> float | None:
    """Mean of the call and put IV at the strike nearest ``spot`` (lower strike on a tie); None if
    neither IV is usable or spot is not a positive number."""
    K = np.asarray(strikes, dtype=np.float64).ravel()
    c = np.asarray(is_call, dtype=bool).ravel()
    v = np.asarray(ivs, dtype=np.float64).ravel()
    if not (K.size and K.size == c.size == v.size) or not (math.isfinite(spot) and spot > 0):
        return None
    usable = np.isfinite(K) & np.isfinite(v) & (v > 0)
    if not usable.any():
        return None
    grid = np.unique(K[usable])
    k = grid[int(np.argmin(np.abs(grid - spot)))]  # argmin takes the first (lower) strike on a tie
    at = usable & (K == k)
    return float(v[at].mean())


def term_vol_context(underlying: str, ts_ns: int, session_date: dt.date, spot: float,
                     expiries: Sequence[dt.date], strikes: Any, is_call: Any, ivs: Any,
                     vix: float | None = None, origin: str = "") -> VolContext:
    """A :class:`VolContext` from quotes of several expiries (parallel arrays, one row per contract).

    ``expiries[i]`` is contract i's expiry; the term expiry is :func:`pick_term_expiry` of the
    distinct expiries and its ATM IV :func:`atm_iv_of_expiry` of that expiry's rows."""
    exp = np.asarray(list(expiries), dtype=object)
    term = pick_term_expiry(set(exp.tolist()), session_date)
    iv = None
    if term is not None:
        rows = exp == term
        iv = atm_iv_of_expiry(np.asarray(strikes)[rows], np.asarray(is_call)[rows], np.asarray(ivs)[rows], spot)
    return VolContext(underlying=underlying, ts_ns=int(ts_ns), term_expiry=term if iv is not None else None,
                      term_atm_iv=iv, vix=vix if vix is not None and math.isfinite(vix) and vix > 0 else None,
                      origin=origin)


def simulated_term_atm_iv(base_vol: float, premium: float = SIM_TERM_PREMIUM) -> float:
    """The simulator's 7-DTE ATM IV (ACT/365): ``base_vol * (1 + premium) * sqrt((5/252) / (7/365))``,
    with ``base_vol`` the day's opening 0DTE ATM vol in the simulator's trading-time units."""
    return float(base_vol) * (1.0 + float(premium)) * SIM_TERM_TRADING_TO_ACT365
