"""Reading a Cboe delayed-quotes chain download (``quotedata.csv``) into a :class:`CboeChain`.

The free download of Cboe's delayed quotes pages (cboe.com/delayed_quotes/<sym>/quote_table) is
a short preamble, a header, then one row per (expiry, strike) with the call on the left and the
put on the right::

    <blank line>                                     (usually; absent in some downloads)
    SP 500 INDEX,Last: 5975.3799,Change:  32.9099    (name, last price, change)
    "Date: January 6, 2025 at 8:57 PM EST",Bid: 5934.43,Ask: 6032.45,Size: 1*1,Volume: 0
    Expiration Date,Calls,Last Sale,Net,Bid,Ask,Volume,IV,Delta,Gamma,Open Interest,Strike,Puts,...
    Tue Jan 07 2025,SPXW250107C05930000,54.24,24.4,49.4,50.4,176,0.1749,0.8223,0.0053,251,5930.00,...

Real downloads vary (``tests/data/cboe/`` keeps trimmed copies of public ones): the ``Date:`` line
follows the browser's locale (``June 11, 2022, 8:47 PM EDT``, ``9 June 2023, 1:40 PM EDT``,
``5 April 2023, 19:41 UTC−4``, ``11 de noviembre de 2024, 8:02 GMT-5``, ``9 декабря 2023 г. в
13:49 GMT-5``), is quoted or not, some files have no leading blank line and some pad the preamble
with empty columns. So the preamble and the header are found by content, columns by their names,
dates by ``python-dateutil`` after a small month-name map, and the zone from the text.

Nothing vanishes silently: every dropped row and every defaulted cell is counted by reason in
:attr:`CboeChain.counts`. A file that is not a Cboe chain raises :class:`CboeFormatError` with
a one-line message naming the file, the line and what was expected.
"""

from __future__ import annotations

import csv
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from dateutil import parser as date_parser

from zdte_tui.market.calendar import ET
from zdte_tui.market.occ import format_occ, parse_occ
from zdte_tui.market.roots import settlement_of, underlying_of_root

MAX_PREAMBLE_LINES = 20
SIDE_COLUMNS = ("Last Sale", "Net", "Bid", "Ask", "Volume", "IV", "Delta", "Gamma", "Open Interest")
REQUIRED_SIDE_COLUMNS = ("Bid", "Ask", "Open Interest")
EXPECTED_HEADER = ("Expiration Date,Calls,Last Sale,Net,Bid,Ask,Volume,IV,Delta,Gamma,Open Interest,Strike,"
                   "Puts,Last Sale,Net,Bid,Ask,Volume,IV,Delta,Gamma,Open Interest")

# Month names of the locales real downloads were saved in (browser locale decides the Date: line).
_MONTHS = {
    "January": ("enero", "janvier", "januar", "gennaio", "janeiro", "января", "январь"),
    "February": ("febrero", "février", "fevrier", "februar", "febbraio", "fevereiro", "февраля", "февраль"),
    "March": ("marzo", "mars", "märz", "marz", "março", "marco", "марта", "март"),
    "April": ("abril", "avril", "aprile", "апреля", "апрель"),
    "May": ("mayo", "mai", "maggio", "maio", "мая", "май"),
    "June": ("junio", "juin", "juni", "giugno", "junho", "июня", "июнь"),
    "July": ("julio", "juillet", "juli", "luglio", "julho", "июля", "июль"),
    "August": ("agosto", "août", "aout", "августа", "август"),
    "September": ("septiembre", "setiembre", "septembre", "settembre", "setembro", "сентября", "сентябрь"),
    "October": ("octubre", "octobre", "oktober", "ottobre", "outubro", "октября", "октябрь"),
    "November": ("noviembre", "novembre", "novembro", "ноября", "ноябрь"),
    "December": ("diciembre", "décembre", "decembre", "dezember", "dicembre", "dezembro", "декабря", "декабрь"),
}
_MONTH_OF = {name: en for en, names in _MONTHS.items() for name in names}
# Filler words around the date in those locales ("de", "г.", "в", "at", "um", "à", ...).
_FILLER = {"de", "del", "at", "um", "à", "a", "às", "alle", "le", "г.", "г", "в", "года"}
_TZ_ABBREV = {"EDT": -4, "EST": -5, "CDT": -5, "CST": -6, "UTC": 0, "GMT": 0}
_OFFSET_RE = re.compile(r"\b(?:GMT|UTC)\s*([+\-−–])\s*(\d{1,2})(?::?(\d{2}))?\b", re.IGNORECASE)
_ABBREV_RE = re.compile(r"\b(EDT|EST|CDT|CST|ET|UTC|GMT)\b", re.IGNORECASE)
_PREAMBLE_KEY_RE = re.compile(r"^\s*(Bid|Ask|Size|Volume|Last|Change):")


class CboeFormatError(ValueError):
    """The file is not a readable Cboe chain; the one-line message names the file, line and expectation."""


@dataclass(frozen=True)
class CboeContract:
    """One side of one row: IV is a fraction, OI and volume in contracts, NaN when blank."""

    expiry: date
    strike: float
    is_call: bool
    root: str  # option root from the symbol (SPXW, SPX, NDXP, SPY, ...)
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
    line: int  # 1-based line number in the file

    @property
    def settlement(self) -> str:
        return settlement_of(self.root)


@dataclass(frozen=True)
class CboeChain:
    """A parsed download. ``counts`` maps a reason to the number of rows (or cells) it affected:
    ``dropped:*`` rows are not in ``contracts``; ``defaulted:*`` cells were replaced (e.g. a blank
    OI read as 0) and the contract kept."""

    path: str
    underlying: str
    name: str
    last: float
    change: float | None
    as_of: datetime  # aware, America/New_York
    time_zone: str  # as written in the file ("EDT", "GMT-5", ...) or "" when absent (taken as ET)
    contracts: tuple[CboeContract, ...]
    rows_read: int
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def expiries(self) -> list[date]:
        return sorted({c.expiry for c in self.contracts})

    @property
    def dropped_rows(self) -> int:
        return sum(v for k, v in self.counts.items() if k.startswith("dropped:"))

    def for_expiry(self, expiry: date) -> list[CboeContract]:
        return [c for c in self.contracts if c.expiry == expiry]


# ------------------------------------------------------------------------------ the Date: line
def parse_cboe_date(text: str) -> tuple[datetime, str]:
    """``"June 11, 2022, 8:47 PM EDT"`` (any of the real forms) -> (aware ET datetime, zone as written).

    Month names of the map above are turned into English, filler words dropped, the zone read from
    the text (EDT/EST/ET, GMT-4, UTC−4; none = US Eastern) and the rest handed to dateutil.
    Raises ValueError (with the reason) when no 4-digit year, day, month or HH:MM is found."""
    s = text.strip().strip('"').strip()
    s = re.sub(r"^Date:\s*", "", s, flags=re.IGNORECASE)
    zone = ""
    offset: timedelta | None = None
    m = _OFFSET_RE.search(s)
    if m:
        sign = -1 if m.group(1) in "-−–" else 1
        offset = sign * timedelta(hours=int(m.group(2)), minutes=int(m.group(3) or 0))
        zone = m.group(0).replace("−", "-").replace("–", "-").replace(" ", "")
        s = s[: m.start()] + " " + s[m.end():]
    else:
        a = _ABBREV_RE.search(s)
        if a:
            zone = a.group(1).upper()
            if zone != "ET":
                offset = timedelta(hours=_TZ_ABBREV[zone])
            s = s[: a.start()] + " " + s[a.end():]
    s = s.replace("年", "-").replace("月", "-").replace("日", " ")
    words = []
    for w in re.split(r"[\s,]+", s):
        low = w.lower().strip(".")
        if not w or w.lower() in _FILLER or low in _FILLER:
            continue
        words.append(_MONTH_OF.get(low, w))
    s = " ".join(words)
    if not re.search(r"(?<!\d)\d{4}(?!\d)", s):
        raise ValueError("no 4-digit year")
    if not re.search(r"\d{1,2}:\d{2}", s):
        raise ValueError("no HH:MM time")
    try:
        naive = date_parser.parse(s, default=datetime(2000, 1, 1))
    except (ValueError, OverflowError) as exc:
        raise ValueError(f"not a date ({exc})") from None
    if naive.tzinfo is not None:  # dateutil read a zone we did not strip
        return naive.astimezone(ET), zone or str(naive.tzinfo)
    if offset is None:
        return naive.replace(tzinfo=ET), zone
    return naive.replace(tzinfo=timezone(offset)).astimezone(ET), zone


# ------------------------------------------------------------------------------ cells
def _num(cell: str) -> float:
    """A numeric cell; blank, '-', '--', 'N/A' -> NaN; anything else unreadable raises ValueError."""
    c = cell.strip().replace(",", "")
    if c in ("", "-", "--", "N/A", "n/a", "NaN", "nan"):
        return math.nan
    v = float(c)
    if not math.isfinite(v):
        return math.nan
    return v


def _preamble_value(cells: list[str], key: str) -> str | None:
    for c in cells:
        m = re.match(rf"^\s*{key}:\s*(.*)$", c)
        if m:
            return m.group(1).strip()
    return None


def _header_columns(cells: list[str]) -> dict[str, int] | None:
    """Column index of every field, calls before 'Strike' and puts after 'Puts'; None if not a header."""
    names = [c.strip() for c in cells]
    if not names or names[0] != "Expiration Date" or "Strike" not in names or "Calls" not in names \
            or "Puts" not in names:
        return None
    k = names.index("Strike")
    p = names.index("Puts")
    cols = {"expiry": 0, "strike": k, "call_symbol": names.index("Calls"), "put_symbol": p}
    for side, lo, hi in (("call", 0, k), ("put", p, len(names))):
        for name in SIDE_COLUMNS:
            if name in names[lo:hi]:
                cols[f"{side}:{name}"] = lo + names[lo:hi].index(name)
    return cols


# ------------------------------------------------------------------------------ the file
def load_cboe_chain(path: str | Path, symbol: str | None = None) -> CboeChain:
    """Read a Cboe delayed-quotes download. ``symbol`` overrides the underlying, which is
    otherwise the underlying of the first row's option root (SPXW -> SPX).

    Raises :class:`CboeFormatError` (one line: file, line, expectation) when the file cannot be
    read or its preamble/header are missing; bad rows are counted in ``counts``, never raised."""
    path = Path(path)
    name = path.name
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CboeFormatError(f"{path}: cannot read the file ({exc.strerror or exc})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CboeFormatError(f"{name}: byte {exc.start}: not UTF-8 text; expected a Cboe quotedata.csv") from None
    if "\x00" in text:
        raise CboeFormatError(f"{name}: binary data (NUL bytes); expected a Cboe quotedata.csv")
    lines = text.splitlines()

    head_idx, cols = None, None
    for i, ln in enumerate(lines[:MAX_PREAMBLE_LINES + 1]):
        try:
            cells = next(csv.reader([ln]), [])
        except csv.Error:
            continue
        cols = _header_columns(cells)
        if cols is not None:
            head_idx = i
            break
    if head_idx is None or cols is None:
        raise CboeFormatError(f"{name}: line 1-{min(len(lines), MAX_PREAMBLE_LINES + 1)}: no header row; "
                              f"expected '{EXPECTED_HEADER[:60]}...'")
    missing = [f"{s}:{c}" for s in ("call", "put") for c in REQUIRED_SIDE_COLUMNS if f"{s}:{c}" not in cols]
    if missing:
        raise CboeFormatError(f"{name}: line {head_idx + 1}: header lacks {', '.join(missing)}; "
                              f"expected '{EXPECTED_HEADER[:60]}...'")

    last = change = None
    as_of = None
    zone = ""
    title = ""
    for i, ln in enumerate(lines[:head_idx]):
        try:
            cells = next(csv.reader([ln]), [])
        except csv.Error:
            continue
        v = _preamble_value(cells, "Last")
        if v is not None and last is None:
            try:
                last = _num(v)
            except ValueError:
                raise CboeFormatError(f"{name}: line {i + 1}: unreadable 'Last: {v[:20]}'; expected a price") from None
            title = cells[0].strip() if not cells[0].strip().startswith("Last:") else ""
            c = _preamble_value(cells, "Change")
            try:
                change = _num(c) if c is not None else None
            except ValueError:
                change = None
            if change is not None and math.isnan(change):
                change = None
        j = next((k for k, c in enumerate(cells) if c.strip().startswith("Date:")), None)
        if j is not None and as_of is None:
            parts = [cells[j]]
            for c in cells[j + 1:]:
                if _PREAMBLE_KEY_RE.match(c) or not c.strip():
                    break
                parts.append(c)
            date_text = ",".join(parts)
            try:
                as_of, zone = parse_cboe_date(date_text)
            except ValueError as exc:
                raise CboeFormatError(f"{name}: line {i + 1}: unreadable date {date_text.strip()[:60]!r} ({exc}); "
                                      "expected e.g. 'Date: June 11, 2022, 8:47 PM EDT'") from None
    if last is None or math.isnan(last) or last <= 0:
        raise CboeFormatError(f"{name}: line 1-{head_idx}: no 'Last: <price>' before the header; "
                              "expected e.g. 'SPDR S&P 500 ETF Trust,Last: 450.81,Change: 3.85'")
    if as_of is None:
        raise CboeFormatError(f"{name}: line 1-{head_idx}: no 'Date:' line before the header; "
                              "expected e.g. '\"Date: June 11, 2022, 8:47 PM EDT\",Bid: ...'")

    counts: Counter[str] = Counter()
    contracts: list[CboeContract] = []
    seen: set[tuple] = set()
    roots: list[str] = []
    rows_read = 0
    width = max(cols.values()) + 1
    for i in range(head_idx + 1, len(lines)):
        ln = lines[i]
        if not ln.strip() or not ln.replace(",", "").strip():
            continue
        rows_read += 1
        try:
            row = next(csv.reader([ln]), [])
        except csv.Error:
            counts["dropped:unreadable_row"] += 1
            continue
        if len(row) < width:
            counts["dropped:short_row"] += 1  # a truncated file ends in one
            continue
        try:
            expiry = datetime.strptime(row[cols["expiry"]].strip(), "%a %b %d %Y").date()
        except ValueError:
            counts["dropped:bad_expiry"] += 1
            continue
        try:
            strike = _num(row[cols["strike"]])
        except ValueError:
            strike = math.nan
        if not (strike > 0):
            counts["dropped:bad_strike"] += 1
            continue
        for is_call, side in ((True, "call"), (False, "put")):
            sym_text = row[cols[f"{side}_symbol"]].strip()
            try:
                sym = parse_occ(sym_text)
            except ValueError:
                counts[f"dropped:bad_{side}_symbol"] += 1
                continue
            if sym.expiry != expiry or abs(sym.strike - strike) > 1e-6 or sym.is_call != is_call:
                counts[f"dropped:{side}_symbol_disagrees_with_row"] += 1
                continue
            key = (sym.root, expiry, strike, is_call)
            if key in seen:
                counts["dropped:duplicate"] += 1
                continue
            vals: dict[str, float] = {}
            bad = oi_unreadable = False
            for col in SIDE_COLUMNS:
                idx = cols.get(f"{side}:{col}")
                try:
                    vals[col] = _num(row[idx]) if idx is not None else math.nan
                except ValueError:
                    vals[col] = math.nan
                    if col in ("Bid", "Ask"):
                        bad = True
                        break
                    if col == "Open Interest":
                        oi_unreadable = True
                    else:
                        counts[f"defaulted:{col.lower().replace(' ', '_')}_unreadable_as_blank"] += 1
            if bad:
                counts[f"dropped:unreadable_{side}_quote"] += 1
                continue
            oi = vals["Open Interest"]
            if oi_unreadable:
                counts["defaulted:oi_unreadable_as_0"] += 1
                oi = 0.0
            elif math.isnan(oi):
                counts["defaulted:oi_blank_as_0"] += 1
                oi = 0.0
            elif oi < 0:
                counts["defaulted:oi_negative_as_0"] += 1
                oi = 0.0
            vol = vals["Volume"]
            seen.add(key)
            roots.append(sym.root)
            contracts.append(CboeContract(
                expiry=expiry, strike=strike, is_call=is_call, root=sym.root, symbol=sym_text,
                occ=format_occ(sym, "osi"), last=vals["Last Sale"], net=vals["Net"], bid=vals["Bid"],
                ask=vals["Ask"], volume=0 if math.isnan(vol) else int(round(vol)), iv=vals["IV"],
                delta=vals["Delta"], gamma=vals["Gamma"], open_interest=int(round(oi)), line=i + 1))
    if symbol:
        underlying = symbol.strip().upper()
    elif roots:
        underlying = underlying_of_root(Counter(roots).most_common(1)[0][0])
    else:
        underlying = title.split()[0].upper() if title else "UNKNOWN"
    return CboeChain(path=str(path), underlying=underlying, name=title, last=float(last), change=change,
                     as_of=as_of, time_zone=zone, contracts=tuple(contracts), rows_read=rows_read,
                     counts={k: v for k, v in sorted(counts.items()) if v})
