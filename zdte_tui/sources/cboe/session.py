"""Which session, expiry, time and spot a Cboe snapshot is valued at (pure functions, no I/O).

* **Projection.** A chain saved during a regular session is valued at its own time. One saved
  after the close, at a weekend, on a holiday or before the open is *projected*: its quotes were
  struck at the last regular close before the file's time (options stop quoting then), so
  implied vols come from the mids at that time; the expiry is the next session's (0DTE), valued
  at that session's open (or ``at``), with the time to expiry counted from there. Settled OI is
  the file's. Sessions, half days and holidays come from :mod:`zdte_tui.market.calendar`.
* **Settlement.** Index expiries listed under both roots (SPX and SPXW on a third Friday) are
  valued on the PM-settled root only (:func:`zdte_tui.market.roots.settlement_of`); AM rows are
  left out and counted, never merged into the same strike.
* **Parity spot.** ``F = K + e^{rT}(C - P)`` from the mids of the strikes nearest the money gives
  the forward the options were priced on, ``S = F e^{-(r-q)T}``. When it differs from the
  preamble's ``Last:`` by more than the typical bid/ask spread of ``C - P`` (after hours ``Last``
  may be a later print than the quotes, or a stale one), the parity spot is used; both are reported.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

from zdte_tui.market import calendar
from zdte_tui.market.calendar import ET

PARITY_STRIKES = 5  # strikes nearest the money used for the parity forward


@dataclass(frozen=True)
class SnapshotPlan:
    """When and what a snapshot is valued at. Times are aware ET datetimes."""

    file_time: datetime        # the Date: line
    quote_time: datetime       # when the quotes were struck (file time in session, else the last close)
    valuation_time: datetime   # the engine clock: file time, or the projected time
    session: date              # the session the valuation time belongs to
    expiry: date
    projected: bool
    zero_dte: bool             # expiry == the session valued
    note: str = ""             # why a later expiry is shown, etc.

    @property
    def label(self) -> str:
        stamp = f"{self.file_time:%Y-%m-%d %H:%M} ET"
        if not self.projected:
            return f"DELAYED SNAPSHOT of {stamp}"
        at = self.valuation_time
        open_t, _ = calendar.session_bounds(at.date())
        when = "open" if at == open_t else f"{at:%H:%M} ET"
        return f"DELAYED SNAPSHOT of {stamp} - projected to the {at.date().isoformat()} {when}"


def last_close_before(t: datetime) -> datetime:
    """The regular close at or before ``t`` (a 13:00 half day closes at 13:00)."""
    d = t.astimezone(ET).date()
    if calendar.is_trading_day(d):
        _, close = calendar.session_bounds(d)
        if close <= t:
            return close
    return calendar.session_bounds(calendar.previous_trading_day(d))[1]


def next_session(t: datetime) -> date:
    """The session a file saved at ``t`` describes: today's if the close has not passed, else the next."""
    d = t.astimezone(ET).date()
    if calendar.is_trading_day(d) and t <= calendar.session_bounds(d)[1]:
        return d
    return calendar.next_trading_day(d)


def plan_snapshot(file_time: datetime, expiries: Sequence[date], *, at: time | None = None,
                  expiry: date | None = None) -> SnapshotPlan:
    """Choose the expiry and the valuation time of a snapshot saved at ``file_time``.

    ``expiries``: the listed (PM-valued) expiries. ``expiry`` picks one of them (ValueError if not
    listed or already expired at the file's time). ``at`` values at HH:MM ET of the session. A later
    expiry (``expiry``, or when the next session's is not listed) is valued in that same session with
    the time left to its own close, labelled not 0DTE."""
    t = file_time.astimezone(ET)
    session = next_session(t)
    listed = sorted(set(expiries))
    live = [e for e in listed if e >= session]
    note = ""
    if expiry is not None:
        if expiry not in listed:
            shown = ", ".join(e.isoformat() for e in listed[:8]) or "none"
            raise ValueError(f"expiry {expiry.isoformat()} is not in the file (listed: {shown})")
        if expiry < session:
            raise ValueError(f"expiry {expiry.isoformat()} expired before the file was saved "
                             f"({t:%Y-%m-%d %H:%M} ET)")
        chosen = expiry
    elif session in live:
        chosen = session
    elif live:
        chosen = live[0]
        note = (f"no {session.isoformat()} expiry in the file: showing the nearest later one, "
                f"{chosen.isoformat()} (not 0DTE for the {session.isoformat()} session)")
    else:
        shown = ", ".join(e.isoformat() for e in listed[:8]) or "none"
        raise ValueError(f"no expiry on or after the {session.isoformat()} session in the file (listed: {shown})")
    open_t, close_t = calendar.session_bounds(session)
    d = t.date()
    file_in_session = calendar.is_trading_day(d) and \
        calendar.session_bounds(d)[0] <= t <= calendar.session_bounds(d)[1]
    quote_time = t if file_in_session else last_close_before(t)
    in_session = file_in_session and d == session
    if at is not None:
        valuation = datetime.combine(session, at, tzinfo=ET)
        if not open_t <= valuation <= close_t:
            raise ValueError(f"--at {at:%H:%M} is outside the {session.isoformat()} session "
                             f"({open_t:%H:%M}-{close_t:%H:%M} ET)")
        if valuation < quote_time:
            raise ValueError(f"--at {at:%H:%M} is before the quotes were struck ({quote_time:%Y-%m-%d %H:%M} ET)")
    elif in_session:
        valuation = t
    else:
        valuation = open_t
    return SnapshotPlan(file_time=t, quote_time=quote_time, valuation_time=valuation, session=session,
                        expiry=chosen, projected=valuation != t, zero_dte=chosen == session, note=note)


@dataclass(frozen=True)
class ParitySpot:
    """Spot implied by put-call parity of near-the-money mids, next to the file's Last."""

    last: float
    parity: float | None
    tolerance: float | None      # median bid/ask width of C - P over the strikes used
    strikes_used: tuple[float, ...]
    used: str                    # "parity" or "last"

    @property
    def spot(self) -> float:
        return self.parity if self.used == "parity" and self.parity is not None else self.last

    def as_dict(self) -> dict:
        def r(x):
            return None if x is None else round(x, 4)
        return {"last": r(self.last), "parity": r(self.parity), "difference": r(
            None if self.parity is None else self.parity - self.last), "tolerance": r(self.tolerance),
            "strikes_used": list(self.strikes_used), "used": self.used}


def parity_spot(last: float, strikes: Sequence[float], call_bid: Sequence[float], call_ask: Sequence[float],
                put_bid: Sequence[float], put_ask: Sequence[float], *, t_years: float, r: float = 0.0,
                q: float = 0.0, n: int = PARITY_STRIKES) -> ParitySpot:
    """Parity-implied spot from the ``n`` strikes nearest ``last`` with both sides quoted
    (bid > 0, ask >= bid): per strike ``S = (K + e^{rT}(C_mid - P_mid)) e^{-(r-q)T}``, the median
    over strikes. It is used when ``|S - last|`` exceeds the median width of the C - P quote
    ((call ask - call bid) + (put ask - put bid)) / 2, i.e. when Last is outside the band the
    option quotes allow."""
    rows = []
    for k, cb, ca, pb, pa in zip(strikes, call_bid, call_ask, put_bid, put_ask):
        ok = all(math.isfinite(x) for x in (k, cb, ca, pb, pa)) and cb > 0 and pb > 0 and ca >= cb and pa >= pb
        if ok:
            rows.append((abs(k - last), k, 0.5 * (cb + ca), 0.5 * (pb + pa), 0.5 * ((ca - cb) + (pa - pb))))
    rows.sort()
    rows = rows[:n]
    if len(rows) < 2:
        return ParitySpot(last=last, parity=None, tolerance=None, strikes_used=(), used="last")
    grow, disc = math.exp(r * t_years), math.exp(-(r - q) * t_years)
    spots = [(k + grow * (c - p)) * disc for _, k, c, p, _ in rows]
    parity = statistics.median(spots)
    tol = statistics.median(w for *_, w in rows)
    used = "parity" if abs(parity - last) > tol else "last"
    return ParitySpot(last=last, parity=parity, tolerance=tol,
                      strikes_used=tuple(sorted(k for _, k, *_ in rows)), used=used)
