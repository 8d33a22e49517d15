"""Cboe delayed-quotes chain download ("quotedata.csv") as a one-shot snapshot source.

The free option-chain download on Cboe's delayed quotes pages (cboe.com/delayed_quotes/<sym>/
quote_table), used by many GEX scripts, is laid out as::

    <blank line>                                   (present in most downloads; optional)
    SP 500 INDEX,Last: 5975.3799,Change:  32.9099  (name, last price, change)
    "Date: January 6, 2025 at 8:57 PM EST",Bid: 5934.43,Ask: 6032.45,Size: 1*1,Volume: 0
    Expiration Date,Calls,Last Sale,Net,Bid,Ask,Volume,IV,Delta,Gamma,Open Interest,Strike,Puts,Last Sale,Net,Bid,Ask,Volume,IV,Delta,Gamma,Open Interest
    Tue Jan 07 2025,SPXW250107C05930000,54.24,24.4,49.4,50.4,176,0.1749,0.8223,0.0053,251,5930.00,SPXW250107P05930000,3.12,-16.1,4.7,4.9,4740,0.1753,-0.1777,0.0053,174
    ...

One row per (expiry, strike) with the call on the left and the put on the right; option
symbols in compact OCC form; IV as a fraction (0.1749 = 17.49 %); expiry as
``%a %b %d %Y``. The date line may also read ``Date: 6 January 2025 at ...`` (European
locale). We locate the header row by its first cell, so files with or without the leading
blank line load alike. Layout checked against public copies of real downloads (e.g.
github.com/DorelRoata/Option-Gamma-Exposure--zero-gamma-level ``spx_quotedata.csv``)
and the parsers in perfiliev-style GEX scripts.

The data is *delayed* (about 15 minutes) and the open interest is the prior session's.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np

from zdte_tui.market.calendar import ET
from zdte_tui.market.events import ChainDefinition, Event, EventBatch, FeedStatus, OptionQuotes, SpotTicks
from zdte_tui.market.occ import format_occ, parse_occ
from zdte_tui.market.roots import feed_names, underlying_of_root
from zdte_tui.sources.base import EventSource

HEADER = ("Expiration Date,Calls,Last Sale,Net,Bid,Ask,Volume,IV,Delta,Gamma,Open Interest,Strike,"
          "Puts,Last Sale,Net,Bid,Ask,Volume,IV,Delta,Gamma,Open Interest").split(",")
_SIDE = ("last", "net", "bid", "ask", "volume", "iv", "delta", "gamma", "oi")
_DATE_RE = re.compile(r"Date:\s*(?P<day>.+?)\s+at\s+(?P<time>\d{1,2}:\d{2}\s*[AaPp][Mm])"
                      r"(?:\s+(?P<tz>[A-Za-z]{2,5}))?")


class CboeFormatError(ValueError):
    """The file does not follow the Cboe delayed-quotes layout (the message says where)."""


@dataclass(frozen=True)
class CboeContract:
    """One side of one row: IV is a fraction, OI and volume in contracts, NaN when blank."""

    expiry: date
    strike: float
    is_call: bool
    symbol: str  # as in the file (compact OCC)
    occ: str  # OSI 21-char
    last: float
    net: float
    bid: float
    ask: float
    volume: int
    iv: float
    delta: float
    gamma: float
    open_interest: int


@dataclass(frozen=True)
class CboeChain:
    underlying: str
    name: str
    spot: float
    change: float | None
    as_of: datetime  # aware, America/New_York
    contracts: tuple[CboeContract, ...]
    skipped_rows: int = 0

    @property
    def expiries(self) -> list[date]:
        return sorted({c.expiry for c in self.contracts})

    @property
    def as_of_ns(self) -> int:
        return int(self.as_of.timestamp()) * 1_000_000_000

    def for_expiry(self, expiry: date) -> list[CboeContract]:
        return [c for c in self.contracts if c.expiry == expiry]


def _float(cell: str) -> float:
    cell = cell.strip().replace(",", "")
    if cell in ("", "-", "--", "N/A"):
        return math.nan
    return float(cell)


def _count(cell: str) -> int:
    v = _float(cell)
    return 0 if math.isnan(v) else int(round(v))


def _parse_as_of(line: str, path: Path) -> datetime:
    m = _DATE_RE.search(line)
    if not m:
        raise CboeFormatError(f"{path}: no 'Date: ... at HH:MM AM' in the date line {line[:80]!r}")
    day = m.group("day").replace(",", " ")
    day = " ".join(day.split())
    clock = " ".join(m.group("time").upper().split())
    for fmt in ("%B %d %Y", "%d %B %Y", "%b %d %Y", "%d %b %Y"):
        try:
            d = datetime.strptime(f"{day} {clock}", f"{fmt} %I:%M %p")
            break
        except ValueError:
            continue
    else:
        raise CboeFormatError(f"{path}: cannot read the date {m.group('day')!r}")
    tz = (m.group("tz") or "").upper()
    if tz not in ("", "EDT", "EST", "ET"):
        raise CboeFormatError(f"{path}: unexpected time zone {tz!r} (Cboe files are in US Eastern)")
    return d.replace(tzinfo=ET)


def load_cboe_chain(path: str | Path, symbol: str | None = None) -> CboeChain:
    """Read a Cboe delayed-quotes ``quotedata.csv``. ``symbol`` overrides the underlying,
    which is otherwise the option root of the first row (SPXW -> SPX).

    Rows whose cells cannot be read are skipped and counted in ``skipped_rows``. Raises
    :class:`CboeFormatError` when the spot line, the date line or the header is missing.
    """
    path = Path(path)
    with path.open(newline="", encoding="utf-8-sig") as fh:
        lines = fh.read().splitlines()
    head_idx = next((i for i, ln in enumerate(lines) if ln.startswith("Expiration Date,")), None)
    if head_idx is None:
        raise CboeFormatError(f"{path}: no header row starting with 'Expiration Date,'")
    header = next(csv.reader([lines[head_idx]]))
    if [h.strip() for h in header[: len(HEADER)]] != HEADER:
        raise CboeFormatError(f"{path}: header {header!r} differs from the documented layout {HEADER!r}")
    preamble = lines[:head_idx]
    spot_line = next((ln for ln in preamble if "Last:" in ln), None)
    date_line = next((ln for ln in preamble if "Date:" in ln), None)
    if spot_line is None or date_line is None:
        raise CboeFormatError(f"{path}: expected a 'Last:' line and a 'Date:' line before the header")
    cells = next(csv.reader([spot_line]))
    name = cells[0].strip()
    try:
        spot = float(spot_line.split("Last:")[1].split(",")[0].strip())
    except ValueError:
        raise CboeFormatError(f"{path}: unreadable last price in {spot_line[:80]!r}") from None
    change = None
    if "Change:" in spot_line:
        try:
            change = float(spot_line.split("Change:")[1].split(",")[0].strip())
        except ValueError:
            change = None
    as_of = _parse_as_of(date_line, path)

    contracts: list[CboeContract] = []
    skipped = 0
    roots: list[str] = []
    for row in csv.reader(lines[head_idx + 1:]):
        if not row or not any(c.strip() for c in row):
            continue
        try:
            if len(row) < len(HEADER):
                raise ValueError("short row")
            expiry = datetime.strptime(row[0].strip(), "%a %b %d %Y").date()
            strike = _float(row[11])
            sides = []
            for is_call, sym_col, first in ((True, 1, 2), (False, 12, 13)):
                sym = parse_occ(row[sym_col])
                if sym.expiry != expiry or abs(sym.strike - strike) > 1e-6 or sym.is_call != is_call:
                    raise ValueError("option symbol disagrees with the row")
                f = dict(zip(_SIDE, row[first:first + 9]))
                sides.append(CboeContract(
                    expiry=expiry, strike=strike, is_call=is_call, symbol=row[sym_col].strip(),
                    occ=format_occ(sym, "osi"), last=_float(f["last"]), net=_float(f["net"]),
                    bid=_float(f["bid"]), ask=_float(f["ask"]), volume=_count(f["volume"]),
                    iv=_float(f["iv"]), delta=_float(f["delta"]), gamma=_float(f["gamma"]),
                    open_interest=_count(f["oi"])))
                roots.append(sym.root)
        except (ValueError, IndexError):
            skipped += 1  # both sides of the row are dropped together
            continue
        contracts.extend(sides)
    if symbol:
        underlying = symbol.upper()
    elif roots:
        underlying = underlying_of_root(roots[0])
    else:
        underlying = name.split()[0].upper() if name else "UNKNOWN"
    return CboeChain(underlying=underlying, name=name, spot=spot, change=change, as_of=as_of,
                     contracts=tuple(contracts), skipped_rows=skipped)


def choose_expiry(chain: CboeChain, expiry: date | None = None) -> date:
    """``expiry`` if given (must be in the file); else the file date's (0DTE) expiry; else the
    nearest later one; else the earliest."""
    expiries = chain.expiries
    if not expiries:
        raise CboeFormatError("the file holds no readable option rows")
    if expiry is not None:
        if expiry not in expiries:
            raise ValueError(f"expiry {expiry} not in the file (has {', '.join(map(str, expiries[:8]))}...)")
        return expiry
    today = chain.as_of.date()
    later = [e for e in expiries if e >= today]
    return later[0] if later else expiries[0]


class CboeSnapshotSource(EventSource):
    """One delayed snapshot as engine events: a ChainDefinition for the chosen expiry with the
    file's OI as settled OI, one EventBatch (spot + every contract's bid/ask) at the file's
    time, then the source ends. No trades are invented from the volume column."""

    name = "cboe"
    simulated = False

    def __init__(self, path: str | Path, expiry: date | None = None, symbol: str | None = None) -> None:
        self.path = Path(path)
        self.chain = load_cboe_chain(self.path, symbol=symbol)
        self.expiry = choose_expiry(self.chain, expiry)
        self.symbols = (self.chain.underlying,)
        self.session_date = self.chain.as_of.date()

    @property
    def label(self) -> str:
        t = self.chain.as_of
        return (f"DELAYED SNAPSHOT {t:%Y-%m-%d %H:%M} ET (Cboe, {self.chain.underlying} "
                f"exp {self.expiry.isoformat()})")

    async def events(self) -> AsyncIterator[Event]:
        chain, ts = self.chain, self.chain.as_of_ns
        rows = sorted(chain.for_expiry(self.expiry), key=lambda c: (c.strike, not c.is_call))
        prev_close = chain.spot - chain.change if chain.change is not None else None
        yield ChainDefinition(
            underlying=chain.underlying, expiry=self.expiry,
            strikes=[c.strike for c in rows], is_call=[c.is_call for c in rows],
            settled_oi=[c.open_interest for c in rows], occ_symbols=tuple(c.occ for c in rows),
            prev_close=prev_close)
        n = len(rows)
        bid = np.array([c.bid for c in rows], dtype=np.float64)
        ask = np.array([c.ask if c.ask > 0 else math.nan for c in rows], dtype=np.float64)
        yield EventBatch(
            underlying=chain.underlying, start_ns=ts - 1, end_ns=ts,
            spot=SpotTicks(ts_ns=[ts], price=[chain.spot]),
            quotes=OptionQuotes(ts_ns=np.full(n, ts, np.int64), contract=np.arange(n, dtype=np.int32),
                                bid=bid, ask=ask, bid_size=np.zeros(n, np.int32),
                                ask_size=np.zeros(n, np.int32)))
        spot_feed, opt_feed = feed_names(chain.underlying)
        for feed in (spot_feed, opt_feed, "oi_feed"):
            yield FeedStatus(kind="delivered", ts_ns=ts, underlying=chain.underlying, feed=feed,
                             message="delayed snapshot")
        if chain.skipped_rows:
            yield FeedStatus(kind="malformed", ts_ns=ts, count=chain.skipped_rows,
                             message=f"cboe: {chain.skipped_rows} unreadable row(s) in {self.path.name}")
