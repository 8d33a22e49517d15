"""A Cboe delayed-quotes download as a one-shot event source (``--source cboe:PATH``)."""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Mapping
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import numpy as np

from zdte_tui.market.calendar import session_bounds
from zdte_tui.market.events import ChainDefinition, Event, EventBatch, FeedStatus, OptionQuotes, SpotTicks
from zdte_tui.market.roots import feed_names, is_index
from zdte_tui.market.term import term_vol_context
from zdte_tui.sources.base import EventSource
from zdte_tui.sources.cboe.parsing import CboeChain, CboeContract, CboeFormatError, load_cboe_chain
from zdte_tui.sources.cboe.session import ParitySpot, SnapshotPlan, parity_spot, plan_snapshot

SECONDS_PER_YEAR = 365.0 * 86400.0  # calendar time, as the engine counts it (docs/model.md)


def _ns(t: datetime) -> int:
    return int(round(t.timestamp() * 1e9))


def pm_rows(chain: CboeChain, expiry: date) -> tuple[list[CboeContract], int]:
    """The rows of ``expiry`` valued for 0DTE: the PM-settled root when an index lists both an AM
    monthly and a PM weekly root (SPX/SPXW on a third Friday). Returns (rows, AM rows left out)."""
    rows = chain.for_expiry(expiry)
    pm = [c for c in rows if c.settlement == "PM"]
    return pm, len(rows) - len(pm)


def pm_expiries(chain: CboeChain) -> list[date]:
    """Expiries with at least one PM-settled row."""
    return sorted({c.expiry for c in chain.contracts if c.settlement == "PM"})


class CboeSnapshotSource(EventSource):
    """One delayed snapshot as engine events: a ChainDefinition of the chosen expiry's PM-settled
    rows with the file's OI as settled OI, one EventBatch (spot + every contract's bid/ask) at the
    valuation time, the counts of what was left out, then the source ends. No trades are invented
    from the volume column. See :mod:`zdte_tui.sources.cboe.session` for the projection rules."""

    name = "cboe"
    simulated = False

    def __init__(self, path: str | Path, expiry: date | None = None, symbol: str | None = None, *,
                 at: time | None = None, r: float = 0.0, q: float | Mapping[str, float] = 0.0) -> None:
        """``r``, ``q``: rate and dividend yield for the parity spot (``q`` may map symbol -> yield)."""
        self.path = Path(path)
        self.chain = load_cboe_chain(self.path, symbol=symbol)
        try:
            self.plan: SnapshotPlan = plan_snapshot(self.chain.as_of, pm_expiries(self.chain), at=at, expiry=expiry)
        except ValueError as exc:
            am_only = sorted({c.expiry for c in self.chain.contracts} - set(pm_expiries(self.chain)))
            extra = (f"; AM-settled only: {', '.join(e.isoformat() for e in am_only[:4])}"
                     " (zdte values PM-settled expiries)") if am_only else ""
            raise CboeFormatError(f"{self.path.name}: {exc}{extra}") from None
        self.expiry = self.plan.expiry
        rows, self.am_rows_excluded = pm_rows(self.chain, self.expiry)
        self.rows = sorted(rows, key=lambda c: (c.strike, not c.is_call))
        if not any(math.isfinite(c.ask) and c.ask > 0 and (not c.bid > c.ask) for c in self.rows):
            raise CboeFormatError(f"{self.path.name}: no {self.expiry.isoformat()} contract has a bid/ask quote "
                                  "(the file's quotes are 0 or blank); expected quotes to imply vols from")
        self.symbols = (self.chain.underlying,)
        self.session_date = self.plan.session
        close_ns = _ns(session_bounds(self.expiry)[1])
        t_quote = max(close_ns - _ns(self.plan.quote_time), 0) / 1e9 / SECONDS_PER_YEAR
        q_sym = float(q.get(self.chain.underlying, 0.0)) if isinstance(q, Mapping) else float(q)
        calls = {c.strike: c for c in self.rows if c.is_call}
        puts = {c.strike: c for c in self.rows if not c.is_call}
        both = sorted(set(calls) & set(puts))
        self.spot: ParitySpot = parity_spot(
            self.chain.last, both, [calls[k].bid for k in both], [calls[k].ask for k in both],
            [puts[k].bid for k in both], [puts[k].ask for k in both], t_years=t_quote, r=r, q=q_sym)

    # --- what the service shows -------------------------------------------------------------
    @property
    def ready_at_ns(self) -> int:
        """The engine has the whole snapshot once its clock reaches the valuation time."""
        return _ns(self.plan.valuation_time)

    @property
    def data_as_of_ns(self) -> int:
        """The file's time: a projected snapshot's data is never newer than that."""
        return _ns(self.plan.file_time)

    @property
    def counts(self) -> dict[str, int]:
        out = dict(self.chain.counts)
        if self.am_rows_excluded:
            out["excluded:am_settled_rows"] = self.am_rows_excluded
        return out

    @property
    def label(self) -> str:
        zero = "" if self.plan.zero_dte else " (not 0DTE)"
        root = self.rows[0].root if self.rows else self.chain.underlying
        counts = self.counts
        left = sum(v for k, v in counts.items() if not k.startswith("excluded:"))
        tail = f" · {left} row(s)/cell(s) left out or defaulted (see metadata.input_counts)" if left else ""
        return f"{self.plan.label} (Cboe, {root} exp {self.expiry.isoformat()}{zero}){tail}"

    @property
    def snapshot_info(self) -> dict[str, Any]:
        """JSON-ready provenance of the snapshot (FlowService puts it in ``metadata``)."""
        p = self.plan
        roots = sorted({c.root for c in self.rows})
        dropped = self.chain.dropped_rows
        return {
            "label": p.label, "file": self.path.name, "file_time": p.file_time.isoformat(),
            "time_zone_in_file": p.file_time.tzname() if not self.chain.time_zone else self.chain.time_zone,
            "quotes_struck_at": p.quote_time.isoformat(), "valued_at": p.valuation_time.isoformat(),
            "projected": p.projected, "session": p.session.isoformat(), "expiry": self.expiry.isoformat(),
            "zero_dte": p.zero_dte, "note": p.note or None,
            "spot": self.spot.as_dict(),
            "settlement": {"roots": roots, "style": "PM", "am_settled_rows_excluded": self.am_rows_excluded},
            "rows": {"read": self.chain.rows_read, "dropped": dropped,
                     "contracts_in_file": len(self.chain.contracts), "contracts_valued": len(self.rows)},
            "counts": self.counts,
        }

    def summary_line(self) -> str:
        """One line for stderr: what was read and what was left out (nothing vanishes silently)."""
        c = self.counts
        parts = [f"{k}={v}" for k, v in c.items()]
        s = self.spot
        spot = (f"spot {s.spot:.2f} ({s.used}; Last {s.last:.2f}"
                + (f", parity {s.parity:.2f}" if s.parity is not None else "") + ")")
        return (f"cboe: {self.path.name}: {self.chain.rows_read} rows, {len(self.rows)} contracts valued, "
                f"{spot}; " + (", ".join(parts) if parts else "nothing skipped"))

    # --- events ---------------------------------------------------------------------------
    async def events(self) -> AsyncIterator[Event]:
        chain, rows, p = self.chain, self.rows, self.plan
        ts = _ns(p.valuation_time)
        file_ns = _ns(p.file_time)
        prev_close = chain.last - chain.change if chain.change is not None else None
        yield ChainDefinition(
            underlying=chain.underlying, expiry=self.expiry,
            strikes=np.array([c.strike for c in rows], np.float64), is_call=np.array([c.is_call for c in rows], bool),
            settled_oi=np.array([c.open_interest for c in rows], np.int64), occ_symbols=tuple(c.occ for c in rows),
            prev_close=prev_close, iv_time_ns=_ns(p.quote_time) if p.projected else None,
            session_date=None if p.zero_dte else p.session)
        n = len(rows)
        bid = np.array([c.bid for c in rows], dtype=np.float64)
        ask = np.array([c.ask if c.ask > 0 else math.nan for c in rows], dtype=np.float64)
        yield EventBatch(
            underlying=chain.underlying, start_ns=ts - 1, end_ns=ts,
            spot=SpotTicks(ts_ns=np.array([ts], np.int64), price=np.array([self.spot.spot])),
            quotes=OptionQuotes(ts_ns=np.full(n, ts, np.int64), contract=np.arange(n, dtype=np.int32),
                                bid=bid, ask=ask, bid_size=np.zeros(n, np.int32),
                                ask_size=np.zeros(n, np.int32)))
        # the next-week expiry's ATM IV from the file's own IV column (docs/model.md, "Vol context")
        pm = [c for c in chain.contracts if c.settlement == "PM"]
        yield term_vol_context(chain.underlying, ts, self.session_date, self.spot.spot, [c.expiry for c in pm],
                               [c.strike for c in pm], [c.is_call for c in pm], [c.iv for c in pm],
                               origin="cboe_chain")
        spot_feed, opt_feed = feed_names(chain.underlying)
        for feed in (spot_feed, opt_feed, "oi_feed"):
            yield FeedStatus(kind="delivered", ts_ns=file_ns, underlying=chain.underlying, feed=feed,
                             message="delayed snapshot")
        if chain.dropped_rows:
            yield FeedStatus(kind="malformed", ts_ns=file_ns, count=chain.dropped_rows,
                             feed="index_options_feed" if is_index(chain.underlying) else "equity_options_feed",
                             message=f"cboe: {chain.dropped_rows} row(s) dropped in {self.path.name}")
