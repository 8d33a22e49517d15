"""Convert Databento DBN files (OPRA options, optionally equities) into a zdte recording.

``import_dbn(files, out)`` reads any mix of OPRA schemas — definition, statistics, trades,
tbbo, mbp-1, cmbp-1, tcbbo, cbbo-1s/1m, bbo-1s/1m — plus optional equities trades/quotes
for the underlying, and writes one recording (``zdte import-dbn FILES --out PATH``).

Streaming. A real day is gigabytes (a 1 s consolidated BBO of 800 contracts alone is ~19 M
records), so nothing is read whole. Each file is read in chunks of ``chunk_records`` records
(:class:`DbnStream`): ``.zst`` files are decompressed on the fly with pyarrow's zstd codec (the
``zstandard`` package is not a dependency), the metadata header is decoded with
``databento_dbn``'s ``DBNDecoder``, and the records of a single-schema DBN v3 file are viewed
chunk by chunk with ``np.frombuffer`` in the record class's own numpy layout
(``TradeMsg._dtypes`` ...); other files (older DBN versions, mixed record types) are fed to
``DBNDecoder`` chunk by chunk (it upgrades to v3). Pass 1 reads definitions, statistics, the
record types present and an hourly count of events (for the session date). Pass 2 merges the
files' rows in time order: it always reads next from the file that is furthest behind, and
writes every 30 s slice that all files have read past (less a tolerance of
``LATE_TOLERANCE_NS`` = 5 s for records slightly out of order within a file; a record later
than that is stamped into the next slice and counted in the notes). Rows resident at once:
about one chunk per file plus the tolerance window, whatever the file size
(``ImportSummary.max_rows_resident``). The recording is written through the store's
:class:`~zdte_tui.store.writer.RecordingWriter` as the slices are cut.

Rules (each recorded in the recording's notes when it applies):

- Contracts come from definition records (strike x 1e-9; ``expiration`` at midnight UTC
  names the expiry DATE, whose close is 16:00 ET; undefined multiplier -> 100), else from
  the OCC raw symbols of the files' symbol mappings. One expiry per underlying is kept: the
  session date's, else the nearest later one.
- Quotes: the consolidated NBBO (cmbp-1, tcbbo, cbbo). The venue BBO of mbp-1/tbbo/bbo is
  used only when no consolidated quote exists (noted). Sampled quotes (cbbo-1s/1m, bbo-*)
  are stamped ``ts_event + 1 ns`` (the state after the interval's last update; applying
  them at ``ts_event`` would put a post-trade quote before the trade that moved it).
- Trades: venue-level trades (trades, tbbo, mbp-1 action 'T'), de-duplicated on
  (instrument, ts_event, publisher, sequence, price, size); tcbbo/cmbp-1 trades only when
  no venue-level trade exists. OPRA trades carry no aggressor side (the engine classifies).
- Settled OI: statistics ``OPEN_INTEREST``; the publishers repeat it, the latest report wins.
- Spot: the underlying's equity trades (or quote mids) when such a file is given; else put-
  call parity on the NBBO, ``S = C - P + K e^{-rT}``, median over the strikes nearest the
  money, at every whole second of a slice whose newest usable mids are at most 60 s old
  (noted); with no call/put pair, spot is unavailable (noted).
- Session date: the ET date of the hour holding the median trade/quote time.
- Vol context: when the data holds a later expiry of the underlying (the one nearest 7 calendar
  days), its ATM IV every 5 minutes (:func:`term_atm_vol`).
"""

from __future__ import annotations

import datetime as dt
import json
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from zdte_tui.market.events import (
    CONTRACT_MULTIPLIER,
    NS_PER_SECOND,
    ChainDefinition,
    EventBatch,
    OptionQuotes,
    OptionTrades,
    SpotTicks,
    VolContext,
)
from zdte_tui.market.roots import underlying_of_root
from zdte_tui.market.term import pick_term_expiry
from zdte_tui.store.writer import RecordingWriter

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
DBN_MAGIC = b"DBN"
FIXED_PRICE_SCALE = 1e-9
UNDEF_PRICE = np.iinfo(np.int64).max
UNDEF_TIMESTAMP = np.iinfo(np.uint64).max
UNDEF_I32 = np.iinfo(np.int32).max
UNDEF_STAT_QUANTITY = np.iinfo(np.int64).max
STAT_OPEN_INTEREST = 9
SLICE_NS = 30 * NS_PER_SECOND
CHUNK_RECORDS = 1 << 16  # records decoded at a time per file
CHUNK_BYTES = 4 << 20  # bytes fed to the library decoder at a time (old versions, mixed files)
LATE_TOLERANCE_NS = 5 * NS_PER_SECOND
NS_PER_YEAR = 365 * 24 * 3600 * NS_PER_SECOND
DEFAULT_RATE = 0.04  # annual risk-free rate for the parity discount (immaterial for 0DTE)
PARITY_STRIKES = 6  # strikes nearest the money whose parity values are medianed
PARITY_MAX_QUOTE_AGE_NS = 60 * NS_PER_SECOND  # a mid older than this is not used

# rtype -> (record class name, role)
RTYPE_MBP0, RTYPE_MBP1, RTYPE_DEF, RTYPE_STAT = 0, 1, 19, 24
RTYPE_CMBP1, RTYPE_CBBO1S, RTYPE_CBBO1M, RTYPE_TCBBO, RTYPE_BBO1S, RTYPE_BBO1M = 177, 192, 193, 194, 195, 196
_RTYPE_CLASS = {
    RTYPE_MBP0: "TradeMsg", RTYPE_MBP1: "MBP1Msg", RTYPE_DEF: "InstrumentDefMsg", RTYPE_STAT: "StatMsg",
    RTYPE_CMBP1: "CMBP1Msg", RTYPE_TCBBO: "CMBP1Msg", RTYPE_CBBO1S: "CBBOMsg", RTYPE_CBBO1M: "CBBOMsg",
    RTYPE_BBO1S: "BBOMsg", RTYPE_BBO1M: "BBOMsg",
}
_SAMPLED_RTYPES = (RTYPE_CBBO1S, RTYPE_CBBO1M, RTYPE_BBO1S, RTYPE_BBO1M)
_CONSOLIDATED_RTYPES = (RTYPE_CMBP1, RTYPE_TCBBO, RTYPE_CBBO1S, RTYPE_CBBO1M)


class DbnImportError(Exception):
    """A DBN file cannot be imported; the message names the file and the problem."""


@dataclass(frozen=True)
class ImportSummary:
    """What :func:`import_dbn` wrote."""

    out: Path
    session_date: dt.date
    underlyings: tuple[str, ...]
    contracts: int
    quotes: int
    trades: int
    spot_ticks: int
    quote_source: str  # "consolidated" | "venue" | "none"
    spot_source: str  # "equities" | "put-call parity" | "unavailable"
    notes: tuple[str, ...]
    files: tuple[tuple[str, str, int], ...]  # (path, schema, records)
    max_rows_resident: int = 0  # most event rows held in memory at once (bounded by the chunk size)

    def __str__(self) -> str:
        """A short human summary (what ``zdte import-dbn`` prints)."""
        spot = {"put-call parity": "spot from put-call parity", "equities": "spot from the underlying's trades",
                "unavailable": "no spot"}.get(self.spot_source, self.spot_source)
        quotes = {"consolidated": "consolidated NBBO", "venue": "venue BBO (not the NBBO)",
                  "none": "no quotes"}.get(self.quote_source, self.quote_source)
        lines = [f"wrote {self.out}: {', '.join(self.underlyings)} session {self.session_date}",
                 f"  {self.contracts:,} contracts, {self.quotes:,} quotes ({quotes}), {self.trades:,} trades, "
                 f"{self.spot_ticks:,} spot ticks ({spot})",
                 "  files: " + "; ".join(f"{Path(p).name} ({s}, {n:,} records)" for p, s, n in self.files)]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


# ---------------------------------------------------------------------- decoding

@dataclass
class DbnFile:
    """One decoded DBN file: its metadata and its records by rtype (numpy structured arrays).

    Built by :func:`read_dbn` (the whole file in memory, for small files and tests); the
    importer reads files chunk by chunk through :class:`DbnStream` instead."""

    path: Path
    dataset: str
    schema: str | None
    version: int
    mappings: dict[str, list[dict]]
    records: dict[int, np.ndarray] = field(default_factory=dict)
    fast_path: bool = True

    @property
    def is_options(self) -> bool:
        return self.dataset.upper().startswith("OPRA")

    @property
    def n_records(self) -> int:
        return sum(len(a) for a in self.records.values())


def _record_dtype(rtype: int) -> np.dtype:
    import databento_dbn

    return np.dtype(getattr(databento_dbn, _RTYPE_CLASS[rtype])._dtypes)


class DbnStream:
    """One DBN file (plain or zstd) read as a stream of ``(rtype, records)`` chunks.

    The header (metadata) is decoded at construction; :meth:`chunks` re-opens the file and
    yields at most ``chunk_records`` records at a time, so memory does not grow with the file.
    zstd is decompressed on the fly (pyarrow's codec). Fast path: a DBN v3 file without
    ``ts_out`` whose records all have one layout is viewed chunk by chunk with
    ``np.frombuffer`` in the record class's own numpy layout; anything else (older versions,
    mixed record types) goes through ``databento_dbn.DBNDecoder`` fed chunk by chunk (it
    upgrades old versions), one ``bytes(record)`` per record. Record types the importer does
    not use are counted in :attr:`skipped`; an incomplete record at the end of the file is
    counted in :attr:`trailing_bytes`."""

    def __init__(self, path: str | Path, *, chunk_records: int = CHUNK_RECORDS, force_decoder: bool = False) -> None:
        import databento_dbn

        self.path = Path(path)
        self.chunk_records = max(1, int(chunk_records))
        self.force_decoder = force_decoder
        self.fast_path = True
        self.skipped = 0
        self.trailing_bytes = 0
        with self._open() as stream:
            prefix = self._read(stream, 8)
            if not prefix.startswith(DBN_MAGIC) or len(prefix) < 8:
                raise DbnImportError(f"{self.path}: not a DBN file (magic bytes {prefix[:4]!r})")
            (meta_len,) = struct.unpack_from("<I", prefix, 4)
            self._header = prefix + self._read(stream, meta_len)
        try:
            dec = databento_dbn.DBNDecoder()
            dec.write(self._header)
            meta = dec.decode()[0]
        except (databento_dbn.DBNError, IndexError) as exc:
            raise DbnImportError(f"{self.path}: bad DBN metadata ({exc})") from None
        self.version = prefix[3]
        self.dataset = str(meta.dataset)
        self.schema = None if meta.schema is None else str(meta.schema)
        self.ts_out = bool(meta.ts_out)
        self.mappings: dict[str, list[dict]] = dict(meta.mappings)

    @property
    def is_options(self) -> bool:
        return self.dataset.upper().startswith("OPRA")

    def _open(self):
        try:
            with open(self.path, "rb") as f:
                magic = f.read(4)
        except OSError as exc:
            raise DbnImportError(f"{self.path}: cannot read ({exc.strerror or exc})") from None
        try:
            return pa.input_stream(str(self.path), compression="zstd" if magic == ZSTD_MAGIC else None)
        except (OSError, pa.ArrowInvalid) as exc:
            raise DbnImportError(f"{self.path}: cannot read ({exc})") from None

    def _read(self, stream, n: int) -> bytes:
        try:
            return stream.read(n)
        except (OSError, pa.ArrowInvalid) as exc:
            raise DbnImportError(f"{self.path}: corrupt zstd data ({exc})") from None

    def chunks(self) -> Iterator[tuple[int, np.ndarray]]:
        """``(rtype, records)`` in file order, at most ``chunk_records`` records each (each call
        reads the file again; :attr:`skipped` and :attr:`trailing_bytes` count the last read)."""
        import databento_dbn

        self.skipped = self.trailing_bytes = 0
        self.fast_path = True
        with self._open() as stream:
            self._read(stream, len(self._header))
            fast = (not self.force_decoder and self.version == databento_dbn.DBN_VERSION and not self.ts_out)
            pending = b""
            while fast:
                head = pending or self._read(stream, 2)
                if len(head) < 2:
                    self.trailing_bytes += len(head)
                    return
                rec_len, rtype = head[0] * 4, head[1]
                if rtype not in _RTYPE_CLASS or rec_len == 0 or _record_dtype(rtype).itemsize != rec_len:
                    pending, fast = head, False
                    break
                want = rec_len * self.chunk_records
                buf = head + self._read(stream, want - len(head))
                n = len(buf) // rec_len
                arr = np.frombuffer(buf, dtype=_record_dtype(rtype), count=n)
                if not ((arr["length"] == head[0]).all() and (arr["rtype"] == rtype).all()):
                    pending, fast = buf, False  # mixed record types: the library decodes from here
                    break
                if n:
                    yield rtype, arr
                rest = buf[n * rec_len:]
                if len(buf) < want:  # end of file
                    self.trailing_bytes += len(rest)
                    return
                pending = rest
            self.fast_path = False
            yield from self._decoded(stream, pending)

    def _decoded(self, stream, pending: bytes) -> Iterator[tuple[int, np.ndarray]]:
        import databento_dbn

        dec = databento_dbn.DBNDecoder()
        try:
            dec.write(self._header)
            dec.decode()
            data = pending
            while True:
                if data:
                    dec.write(data)
                by_rtype: dict[int, list[bytes]] = {}
                for rec in dec.decode():
                    rt = getattr(rec, "rtype", None)
                    if rt is None:
                        continue
                    rtype = int(getattr(rt, "value", rt))
                    if rtype in _RTYPE_CLASS:
                        by_rtype.setdefault(rtype, []).append(bytes(rec)[: _record_dtype(rtype).itemsize])
                    else:
                        self.skipped += 1
                for rtype, parts in by_rtype.items():
                    yield rtype, np.frombuffer(b"".join(parts), dtype=_record_dtype(rtype))
                data = self._read(stream, CHUNK_BYTES)
                if not data:
                    self.trailing_bytes += len(dec.buffer())
                    return
        except databento_dbn.DBNError as exc:
            raise DbnImportError(f"{self.path}: cannot decode DBN records ({exc})") from None


def read_dbn(path: str | Path, *, force_decoder: bool = False) -> DbnFile:
    """Decode one whole DBN file (plain or zstd) into numpy record arrays grouped by rtype."""
    stream = DbnStream(path, force_decoder=force_decoder)
    parts: dict[int, list[np.ndarray]] = {}
    for rtype, arr in stream.chunks():
        parts.setdefault(rtype, []).append(arr)
    out = DbnFile(path=stream.path, dataset=stream.dataset, schema=stream.schema, version=stream.version,
                  mappings=stream.mappings, fast_path=stream.fast_path)
    out.records = {rt: np.concatenate(a) for rt, a in parts.items()}
    return out


def _price(fixed: np.ndarray) -> np.ndarray:
    """Fixed-point int64 x 1e-9 -> float64 dollars; UNDEF_PRICE -> NaN."""
    px = fixed.astype(np.float64) / 1e9
    px[fixed == UNDEF_PRICE] = np.nan
    return px


def _event_ts(arr: np.ndarray) -> np.ndarray:
    """ts_event, or ts_recv where ts_event is undefined (int64 ns)."""
    ts_event, ts_recv = arr["ts_event"], arr["ts_recv"]
    return np.where(ts_event == UNDEF_TIMESTAMP, ts_recv, ts_event).astype(np.int64)


def _cstr(values: np.ndarray) -> list[str]:
    return [v.split(b"\x00", 1)[0].decode("ascii", "replace").strip() for v in values.tolist()]


# ---------------------------------------------------------------------- contracts

@dataclass
class _Contracts:
    """instrument_id -> contract facts, in parallel arrays."""

    ids: list[int] = field(default_factory=list)
    underlying: list[str] = field(default_factory=list)
    expiry: list[dt.date] = field(default_factory=list)
    is_call: list[bool] = field(default_factory=list)
    strike: list[float] = field(default_factory=list)
    symbol: list[str] = field(default_factory=list)
    multiplier: list[int] = field(default_factory=list)
    _seen: set[int] = field(default_factory=set)

    def add(self, iid: int, underlying: str, expiry: dt.date, is_call: bool, strike: float, symbol: str,
            multiplier: int) -> None:
        if iid in self._seen:
            return
        self._seen.add(iid)
        self.ids.append(iid)
        self.underlying.append(underlying)
        self.expiry.append(expiry)
        self.is_call.append(is_call)
        self.strike.append(strike)
        self.symbol.append(symbol)
        self.multiplier.append(multiplier)


def _contracts_from_definitions(defs: np.ndarray, underlying_override: str | None, c: _Contracts) -> None:
    classes = _cstr(defs["instrument_class"])
    symbols = _cstr(defs["raw_symbol"])
    unders = _cstr(defs["underlying"])
    assets = _cstr(defs["asset"])
    strikes = _price(defs["strike_price"])
    mult = defs["contract_multiplier"]
    for i in range(len(defs)):  # definitions are one per contract: a small table
        if classes[i] not in ("C", "P"):
            continue
        expiry = dt.datetime.fromtimestamp(int(defs["expiration"][i]) / 1e9, dt.UTC).date()
        under = underlying_override or unders[i] or underlying_of_root(assets[i])
        m = int(mult[i])
        c.add(int(defs["instrument_id"][i]), under, expiry, classes[i] == "C", float(strikes[i]), symbols[i],
              CONTRACT_MULTIPLIER if m in (UNDEF_I32, 0) else m)


def _contracts_from_mappings(files: Sequence[DbnStream], underlying_override: str | None, c: _Contracts) -> int:
    from zdte_tui.market.occ import format_occ, parse_occ

    added = 0
    for f in files:
        if not f.is_options:
            continue
        for raw_symbol, intervals in f.mappings.items():
            try:
                osym = parse_occ(raw_symbol)
            except ValueError:
                continue
            for iv in intervals:
                try:
                    iid = int(iv["symbol"])
                except (KeyError, ValueError):
                    continue
                if iid not in c._seen:
                    added += 1
                c.add(iid, underlying_override or underlying_of_root(osym.root), osym.expiry,
                      osym.is_call, float(osym.strike), format_occ(osym), CONTRACT_MULTIPLIER)
    return added


def _equity_symbol_ids(f: DbnStream) -> dict[int, str]:
    out: dict[int, str] = {}
    for raw_symbol, intervals in f.mappings.items():
        for iv in intervals:
            try:
                out[int(iv["symbol"])] = raw_symbol.strip()
            except (KeyError, ValueError):
                continue
    return out


# ---------------------------------------------------------------------- parity spot

def parity_spot(quote_ts: np.ndarray, quote_contract: np.ndarray, bid: np.ndarray, ask: np.ndarray,
                strikes: np.ndarray, is_call: np.ndarray, expiry_close_ns: int, *,
                rate: float = DEFAULT_RATE, n_strikes: int = PARITY_STRIKES,
                max_age_ns: int = PARITY_MAX_QUOTE_AGE_NS,
                grid: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Spot from put-call parity, one value per second: ``S = C - P + K e^{-rT}``.

    ``C``, ``P`` are NBBO mids in force at each whole second (no older than ``max_age_ns``),
    ``T`` = years to ``expiry_close_ns``; the value is the median over the ``n_strikes``
    strikes nearest the first-pass median. ``grid`` (int64 ns) gives the seconds to evaluate;
    by default every whole second from just after the first quote to just after the last.
    Returns ``(ts_ns, price)`` (empty if no pair); seconds without a usable pair are left out.
    """
    pair_strikes = np.intersect1d(strikes[is_call], strikes[~is_call])
    valid = (bid > 0) & (ask >= bid) & np.isfinite(bid) & np.isfinite(ask)
    if not len(pair_strikes) or not valid.any():
        return np.empty(0, np.int64), np.empty(0, np.float64)
    qt, qc, mid = quote_ts[valid], quote_contract[valid], (bid[valid] + ask[valid]) / 2
    if grid is None:
        grid = np.arange((qt.min() // NS_PER_SECOND + 1) * NS_PER_SECOND,
                         (qt.max() // NS_PER_SECOND + 2) * NS_PER_SECOND, NS_PER_SECOND, dtype=np.int64)
    if not len(grid):
        return np.empty(0, np.int64), np.empty(0, np.float64)
    order = np.lexsort((qt, qc))
    qt, qc, mid = qt[order], qc[order], mid[order]
    bounds = np.searchsorted(qc, np.arange(len(strikes) + 1))

    def mid_at_grid(contract: int) -> np.ndarray:
        ts_c, mid_c = qt[bounds[contract]:bounds[contract + 1]], mid[bounds[contract]:bounds[contract + 1]]
        idx = np.searchsorted(ts_c, grid, side="right") - 1
        out = np.where(idx >= 0, mid_c[np.maximum(idx, 0)] if len(mid_c) else np.nan, np.nan)
        age = grid - np.where(idx >= 0, ts_c[np.maximum(idx, 0)] if len(ts_c) else 0, 0)
        return np.where(age <= max_age_ns, out, np.nan)

    index_of = {(float(k), bool(c)): i for i, (k, c) in enumerate(zip(strikes.tolist(), is_call.tolist()))}
    years = np.maximum(expiry_close_ns - grid, 0) / NS_PER_YEAR
    values = np.full((len(grid), len(pair_strikes)), np.nan)
    for j, k in enumerate(pair_strikes.tolist()):  # one vectorized pass per strike pair
        values[:, j] = mid_at_grid(index_of[(k, True)]) - mid_at_grid(index_of[(k, False)]) + k * np.exp(-rate * years)
    has = np.isfinite(values).any(axis=1)
    grid, values = grid[has], values[has]
    if not len(grid):
        return np.empty(0, np.int64), np.empty(0, np.float64)
    first_pass = np.nanmedian(values, axis=1)
    dist = np.where(np.isfinite(values), np.abs(pair_strikes[None, :] - first_pass[:, None]), np.inf)
    k = min(n_strikes, dist.shape[1])
    kth = np.partition(dist, k - 1, axis=1)[:, k - 1]
    near = np.where(dist <= kth[:, None], values, np.nan)
    return grid, np.nanmedian(near, axis=1)


# ---------------------------------------------------------------------- import

def _session_close_ns(expiry: dt.date) -> int:
    from zdte_tui.market.calendar import et_clock_to_ns

    return et_clock_to_ns(expiry, "16:00")


def _et_date(ts_ns: int) -> dt.date:
    from zdte_tui.market.calendar import ns_to_et

    return ns_to_et(int(ts_ns)).date()


_VENUE_TRADE_RTYPES = (RTYPE_MBP0, RTYPE_MBP1)
_CONS_TRADE_RTYPES = (RTYPE_TCBBO, RTYPE_CMBP1)
_VENUE_QUOTE_RTYPES = (RTYPE_MBP1, RTYPE_BBO1S, RTYPE_BBO1M)
_EVENT_RTYPES = frozenset(_VENUE_TRADE_RTYPES + _CONS_TRADE_RTYPES + _CONSOLIDATED_RTYPES + _VENUE_QUOTE_RTYPES)
_EQUITY_TRADE_RTYPES = (RTYPE_MBP0, RTYPE_MBP1, RTYPE_CMBP1, RTYPE_TCBBO)
HOUR_NS = 3600 * NS_PER_SECOND

# normalized rows held between reading and writing (fixed-point prices stay int64 until written)
_TRADE_ROW = np.dtype([("u", "i4"), ("c", "i4"), ("ts", "i8"), ("pub", "i8"), ("seq", "i8"), ("px", "i8"),
                       ("size", "i8")])
_QUOTE_ROW = np.dtype([("u", "i4"), ("c", "i4"), ("ts", "i8"), ("bid", "i8"), ("ask", "i8"), ("bsz", "i8"),
                       ("asz", "i8")])
_TERM_ROW = np.dtype([("u", "i4"), ("c", "i4"), ("ts", "i8"), ("bid", "i8"), ("ask", "i8")])
_SPOT_ROW = np.dtype([("u", "i4"), ("ts", "i8"), ("px", "f8")])
_ROW_KINDS = {"trades": _TRADE_ROW, "quotes": _QUOTE_ROW, "term": _TERM_ROW, "spot": _SPOT_ROW}


@dataclass
class _Survey:
    """What the first pass over the files learns (everything but the events themselves)."""

    defs: list[np.ndarray] = field(default_factory=list)
    oi: list[np.ndarray] = field(default_factory=list)  # StatMsg rows of OPEN_INTEREST
    hours: dict[int, int] = field(default_factory=dict)  # trade/quote count per UTC hour
    min_recv: int | None = None
    option_rtypes: dict[int, int] = field(default_factory=dict)
    equity_names: set[str] = field(default_factory=set)  # equities symbols with price records
    records: dict[Path, int] = field(default_factory=dict)


def _survey(streams: Sequence[DbnStream], underlying: str | None) -> _Survey:
    sv = _Survey()
    for f in streams:
        n = 0
        sym_of = {} if f.is_options else _equity_symbol_ids(f)
        for rtype, arr in f.chunks():
            n += len(arr)
            recv = int(arr["ts_recv"].min()) if len(arr) else None
            if recv is not None and (sv.min_recv is None or recv < sv.min_recv):
                sv.min_recv = recv
            if not f.is_options:
                if rtype in _EQUITY_TRADE_RTYPES or rtype in _SAMPLED_RTYPES:
                    for iid in np.unique(arr["instrument_id"]).tolist():
                        sv.equity_names.add(sym_of.get(iid, underlying or ""))
                continue
            sv.option_rtypes[rtype] = sv.option_rtypes.get(rtype, 0) + len(arr)
            if rtype == RTYPE_DEF:
                sv.defs.append(arr)
            elif rtype == RTYPE_STAT:
                sv.oi.append(arr[(arr["stat_type"] == STAT_OPEN_INTEREST) & (arr["quantity"] != UNDEF_STAT_QUANTITY)])
            elif rtype in _EVENT_RTYPES:
                hours, counts = np.unique(_event_ts(arr) // HOUR_NS, return_counts=True)
                for h, c in zip(hours.tolist(), counts.tolist()):
                    sv.hours[h] = sv.hours.get(h, 0) + c
        sv.records[f.path] = n
    return sv


def _median_hour_ns(hours: dict[int, int]) -> int:
    """The middle of the UTC hour that holds the median event (events counted per hour)."""
    keys = sorted(hours)
    counts = np.cumsum([hours[h] for h in keys])
    mid = keys[int(np.searchsorted(counts, (counts[-1] + 1) // 2))]
    return mid * HOUR_NS + HOUR_NS // 2


class _Lookup:
    """instrument_id -> (underlying index, contract index), vectorized."""

    def __init__(self, ids: Sequence[int], u: Sequence[int], c: Sequence[int]) -> None:
        order = np.argsort(np.asarray(ids, dtype=np.int64), kind="stable")
        self.ids = np.asarray(ids, dtype=np.int64)[order]
        self.u = np.asarray(u, dtype=np.int32)[order]
        self.c = np.asarray(c, dtype=np.int32)[order]

    def __call__(self, iid: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(found mask, underlying index, contract index) of each id."""
        if not len(self.ids):
            z = np.zeros(len(iid), np.int32)
            return np.zeros(len(iid), bool), z, z
        pos = np.clip(np.searchsorted(self.ids, iid), 0, len(self.ids) - 1)
        found = self.ids[pos] == iid
        return found, self.u[pos], self.c[pos]


def _rows(dtype: np.dtype, n: int, **cols: np.ndarray) -> np.ndarray:
    out = np.empty(n, dtype=dtype)
    for name, values in cols.items():
        out[name] = values
    return out


@dataclass
class _Plan:
    """Which records of which files become which rows (decided after the survey)."""

    trade_rtypes: tuple[int, ...]
    quote_rtypes: tuple[int, ...]
    zero: _Lookup  # same-day contracts
    term: _Lookup  # next-week contracts (vol context)
    u_of_name: dict[str, int]
    underlying: str | None


def _normalize(f: DbnStream, plan: _Plan) -> Iterator[tuple[int, dict[str, np.ndarray]]]:
    """``(latest event time of the chunk, rows by kind)`` for each chunk of ``f``."""
    sym_of = {} if f.is_options else _equity_symbol_ids(f)
    for rtype, arr in f.chunks():
        if rtype in (RTYPE_DEF, RTYPE_STAT) or not len(arr):
            continue
        ts_all = _event_ts(arr)
        out: dict[str, np.ndarray] = {}
        if f.is_options:
            iid = arr["instrument_id"].astype(np.int64)
            if rtype in plan.trade_rtypes:
                t = arr["action"] == b"T"
                found, u, c = plan.zero(iid[t])
                a = arr[t][found]
                seq = a["sequence"].astype(np.int64) if "sequence" in a.dtype.names else np.full(len(a), -1, np.int64)
                out["trades"] = _rows(_TRADE_ROW, len(a), u=u[found], c=c[found], ts=ts_all[t][found],
                                      pub=a["publisher_id"], seq=seq, px=a["price"], size=a["size"])
            if rtype in plan.quote_rtypes:
                ts = ts_all
                if rtype in _SAMPLED_RTYPES:
                    defined = arr["ts_event"] != UNDEF_TIMESTAMP
                    ts = np.where(defined, np.minimum(ts + 1, arr["ts_recv"].astype(np.int64)), ts)
                found, u, c = plan.zero(iid)
                a = arr[found]
                out["quotes"] = _rows(_QUOTE_ROW, len(a), u=u[found], c=c[found], ts=ts[found], bid=a["bid_px_00"],
                                      ask=a["ask_px_00"], bsz=a["bid_sz_00"], asz=a["ask_sz_00"])
                found, u, c = plan.term(iid)
                a = arr[found]
                out["term"] = _rows(_TERM_ROW, len(a), u=u[found], c=c[found], ts=ts[found], bid=a["bid_px_00"],
                                    ask=a["ask_px_00"])
        else:
            if rtype in _EQUITY_TRADE_RTYPES:
                t = arr["action"] == b"T"
                a, ts, px = arr[t], ts_all[t], _price(arr[t]["price"])
            elif rtype in _SAMPLED_RTYPES:
                a, ts, px = arr, ts_all, (_price(arr["bid_px_00"]) + _price(arr["ask_px_00"])) / 2
            else:
                a = None
            if a is not None:
                uniq, inv = np.unique(a["instrument_id"], return_inverse=True)
                codes = np.array([plan.u_of_name.get(sym_of.get(i, plan.underlying or ""), -1)
                                  for i in uniq.tolist()], dtype=np.int32)  # one lookup per instrument
                names = codes[inv] if len(uniq) else np.empty(0, np.int32)
                keep = (names >= 0) & np.isfinite(px)
                out["spot"] = _rows(_SPOT_ROW, int(keep.sum()), u=names[keep], ts=ts[keep], px=px[keep])
        yield int(ts_all.max()), out


@dataclass
class _UnderlyingState:
    """Per underlying: its contracts, and what carries from one 30 s slice to the next."""

    name: str
    expiry: dt.date
    strikes: np.ndarray
    is_call: np.ndarray
    parity: bool  # spot from put-call parity (no equities records for it)
    term: dt.date | None = None
    term_strikes: np.ndarray = field(default_factory=lambda: np.empty(0))
    term_call: np.ndarray = field(default_factory=lambda: np.empty(0, bool))
    last_k: int | None = None  # last slice written
    mid_ts: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))  # last usable mid per contract
    mid: np.ndarray = field(default_factory=lambda: np.empty(0))
    term_mid: np.ndarray = field(default_factory=lambda: np.empty(0))  # NaN: no usable quote yet
    last_spot: float | None = None
    last_spot_ts: int | None = None
    vols_waiting: list[VolContext] = field(default_factory=list)  # written once a later spot print is seen
    vols_written: int = 0
    quotes: int = 0
    trades: int = 0
    spot_ticks: int = 0


def _last_per_contract(c: np.ndarray, ts: np.ndarray, n: int) -> np.ndarray:
    """Index of the latest row of each contract that has one (rows in any order)."""
    order = np.lexsort((ts, c))
    cs = c[order]
    last = np.r_[cs[1:] != cs[:-1], True] if len(cs) else np.empty(0, bool)
    return order[last]


class _Importer:
    """The second pass: rows merged across files in time order, cut into 30 s slices, written."""

    def __init__(self, states: list[_UnderlyingState], writer: RecordingWriter, rate: float,
                 tolerance_ns: int) -> None:
        self.states, self.writer, self.rate, self.tolerance_ns = states, writer, rate, tolerance_ns
        self.pending: dict[str, list[np.ndarray]] = {k: [] for k in _ROW_KINDS}
        self.resident = 0
        self.max_resident = 0
        self.emitted_end: int | None = None  # every row at or before this time has been written
        self.late: dict[str, int] = {k: 0 for k in _ROW_KINDS}
        self.trade_dupes = 0

    # ---- the merge
    def run(self, files: Sequence[tuple[DbnStream, Iterator[tuple[int, dict[str, np.ndarray]]]]]) -> None:
        frontier = [-(1 << 62)] * len(files)
        active = set(range(len(files)))
        while active:
            i = min(active, key=lambda j: frontier[j])
            try:
                latest, rows = next(files[i][1])
            except StopIteration:
                active.discard(i)
            else:
                frontier[i] = max(frontier[i], latest)
                for kind, arr in rows.items():
                    if len(arr):
                        self.pending[kind].append(arr)
                        self.resident += len(arr)
                self.max_resident = max(self.max_resident, self.resident)
            if active and min(frontier[j] for j in active) > -(1 << 62):
                horizon = min(frontier[j] for j in active) - self.tolerance_ns
                self.emit(horizon // SLICE_NS * SLICE_NS)
        self.emit(None)

    def emit(self, upto: int | None) -> None:
        """Write every slice ending at or before ``upto`` (None: everything pending)."""
        if upto is not None and self.emitted_end is not None and upto <= self.emitted_end:
            return
        taken: dict[str, np.ndarray] = {}
        for kind, dtype in _ROW_KINDS.items():
            parts = self.pending[kind]
            rows = np.concatenate(parts) if parts else np.empty(0, dtype)
            if self.emitted_end is not None and len(rows):
                late = rows["ts"] <= self.emitted_end
                if late.any():  # behind a slice already written: into the next one
                    self.late[kind] += int(late.sum())
                    rows["ts"][late] = self.emitted_end + 1
            if upto is None:
                now, keep = rows, rows[:0]
            else:
                m = rows["ts"] <= upto
                now, keep = rows[m], rows[~m]
            taken[kind] = now[np.argsort(now["ts"], kind="stable")]
            self.pending[kind] = [keep] if len(keep) else []
        self.resident = sum(len(p) for parts in self.pending.values() for p in parts)
        if not any(len(a) for a in taken.values()):
            if upto is not None and self.emitted_end is not None:
                self.emitted_end = max(self.emitted_end, upto)
            return
        for ui, st in enumerate(self.states):
            mine = {k: a[a["u"] == ui] for k, a in taken.items()}
            ts = np.concatenate([a["ts"] for a in mine.values()])
            if not len(ts):
                continue
            ks = np.unique((ts - 1) // SLICE_NS)
            first = ks[0] if st.last_k is None else st.last_k + 1
            ks_all = np.arange(int(first), int(ks[-1]) + 1, dtype=np.int64)
            edges = {kind: np.searchsorted(a["ts"], np.r_[ks_all, ks_all[-1] + 1] * SLICE_NS, side="right")
                     for kind, a in mine.items()}
            for j, k in enumerate(ks_all.tolist()):
                self._slice(st, k * SLICE_NS, (k + 1) * SLICE_NS,
                            {kind: a[edges[kind][j]:edges[kind][j + 1]] for kind, a in mine.items()})
                st.last_k = k
        last_ts = max(int(a["ts"][-1]) for a in taken.values() if len(a))
        end = upto if upto is not None else ((last_ts - 1) // SLICE_NS + 1) * SLICE_NS
        self.emitted_end = end if self.emitted_end is None else max(self.emitted_end, end)

    # ---- one 30 s slice of one underlying
    def _slice(self, st: _UnderlyingState, lo: int, hi: int, rows: dict[str, np.ndarray]) -> None:
        q, t = rows["quotes"], rows["trades"]
        if len(t):
            _, first = np.unique(t, return_index=True)  # the same print from two files: once
            self.trade_dupes += len(t) - len(first)
            t = t[np.sort(first)]
        if len(q):
            _, first = np.unique(q, return_index=True)
            q = q[np.sort(first)]
        bid, ask = _price(q["bid"]), _price(q["ask"])
        if st.parity:
            spot_ts, spot_px = self._parity(st, lo, hi, q["c"], q["ts"], bid, ask)
        else:
            spot_ts, spot_px = rows["spot"]["ts"], rows["spot"]["px"]
        quotes = OptionQuotes(ts_ns=q["ts"], contract=q["c"], bid=bid, ask=ask,
                              bid_size=np.minimum(q["bsz"], UNDEF_I32), ask_size=np.minimum(q["asz"], UNDEF_I32))
        trades = OptionTrades(ts_ns=t["ts"], contract=t["c"], price=_price(t["px"]),
                              size=np.minimum(t["size"], UNDEF_I32), exchange=t["pub"])
        self.writer.write(EventBatch(underlying=st.name, start_ns=lo, end_ns=hi,
                                     spot=SpotTicks(ts_ns=spot_ts, price=spot_px), quotes=quotes, trades=trades))
        st.quotes += len(quotes)
        st.trades += len(trades)
        st.spot_ticks += len(spot_ts)
        if st.term is not None:
            self._term_vol(st, lo, hi, rows["term"], spot_ts, spot_px)
        if len(spot_ts):
            st.last_spot, st.last_spot_ts = float(spot_px[-1]), int(spot_ts[-1])

    def _parity(self, st: _UnderlyingState, lo: int, hi: int, c: np.ndarray, ts: np.ndarray, bid: np.ndarray,
                ask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Parity spot on the whole seconds of ``(lo, hi]``: the mids carried from earlier slices
        plus this slice's quotes (:func:`parity_spot`)."""
        have = st.mid_ts >= 0
        carry = np.flatnonzero(have)
        all_c = np.concatenate([carry, c]).astype(np.int64)
        all_ts = np.concatenate([st.mid_ts[carry], ts])
        all_bid = np.concatenate([st.mid[carry], bid])
        all_ask = np.concatenate([st.mid[carry], ask])
        grid = np.arange((lo // NS_PER_SECOND + 1) * NS_PER_SECOND, hi + 1, NS_PER_SECOND, dtype=np.int64)
        out = parity_spot(all_ts, all_c, all_bid, all_ask, st.strikes, st.is_call, _session_close_ns(st.expiry),
                          rate=self.rate, grid=grid)
        ok = (bid > 0) & (ask >= bid) & np.isfinite(bid) & np.isfinite(ask)
        if ok.any():
            last = _last_per_contract(c[ok], ts[ok], len(st.strikes))
            cc = c[ok][last]
            st.mid_ts[cc] = ts[ok][last]
            st.mid[cc] = ((bid + ask) / 2)[ok][last]
        return out

    def _term_vol(self, st: _UnderlyingState, lo: int, hi: int, rows: np.ndarray, spot_ts: np.ndarray,
                  spot_px: np.ndarray) -> None:
        """VolContext at each 5-minute boundary of the slice (:func:`term_atm_vol`); written once a
        later spot print shows the boundary lies within the spot data, as before streaming."""
        bid, ask = _price(rows["bid"]), _price(rows["ask"])
        ok = (bid > 0) & (ask >= bid) & np.isfinite(bid) & np.isfinite(ask)
        rc, rts, rmid = rows["c"][ok], rows["ts"][ok], ((bid + ask) / 2)[ok]
        b = (lo // TERM_VOL_STEP_NS + 1) * TERM_VOL_STEP_NS
        start = 0
        while b <= hi:
            upto = int(np.searchsorted(rts, b, side="right"))
            self._update_term(st, rc[start:upto], rts[start:upto], rmid[start:upto])
            start = upto
            k = int(np.searchsorted(spot_ts, b, side="right")) - 1
            spot = float(spot_px[k]) if k >= 0 else st.last_spot
            first_spot = st.last_spot_ts if st.last_spot_ts is not None else (int(spot_ts[0]) if len(spot_ts) else None)
            if spot is not None and first_spot is not None and first_spot <= b:
                iv = term_atm_vol(st.term_strikes, st.term_call, st.term_mid, spot, _session_close_ns(st.term) - b,
                                  self.rate)
                if iv is not None:
                    st.vols_waiting.append(VolContext(underlying=st.name, ts_ns=b, term_expiry=st.term,
                                                      term_atm_iv=iv, origin="dbn"))
            b += TERM_VOL_STEP_NS
        self._update_term(st, rc[start:], rts[start:], rmid[start:])
        if st.vols_waiting and len(spot_ts):
            latest = int(spot_ts[-1])
            for v in [v for v in st.vols_waiting if v.ts_ns <= latest]:
                self.writer.write(v)
                st.vols_written += 1
            st.vols_waiting = [v for v in st.vols_waiting if v.ts_ns > latest]

    @staticmethod
    def _update_term(st: _UnderlyingState, c: np.ndarray, ts: np.ndarray, mid: np.ndarray) -> None:
        if len(c):
            last = _last_per_contract(c, ts, len(st.term_strikes))
            st.term_mid[c[last]] = mid[last]


TERM_VOL_STEP_NS = 5 * 60 * NS_PER_SECOND


def term_atm_vol(strikes: np.ndarray, is_call: np.ndarray, mids: np.ndarray, spot: float, t_ns: int,
                 rate: float) -> float | None:
    """The next-week expiry's ATM IV (docs/model.md, "Vol context"): the strike nearest ``spot``
    (lower on a tie) among the expiry's strikes; each side's NBBO mid in force (NaN: none); its
    Black-Scholes IV with ``T = t_ns`` / ACT/365, rate ``rate``, no dividend; the mean of the sides
    that have one. None without a usable IV."""
    from zdte_tui.engine.greeks import implied_vol

    if not len(strikes) or not (np.isfinite(spot) and spot > 0):
        return None
    grid = np.unique(strikes)
    k = grid[int(np.argmin(np.abs(grid - spot)))]
    at = (strikes == k) & np.isfinite(mids)
    if not at.any():
        return None
    t = max(t_ns, 0) / NS_PER_YEAR
    ivs = implied_vol(is_call[at], mids[at], spot, k, t, rate, 0.0)
    ivs = ivs[np.isfinite(ivs) & (ivs > 0)]
    return float(ivs.mean()) if len(ivs) else None


def import_dbn(files: Sequence[str | Path], out: str | Path, *, underlying: str | None = None,
               rate: float = DEFAULT_RATE, chunk_records: int = CHUNK_RECORDS,
               overwrite: bool = False) -> ImportSummary:
    """Convert DBN files into a recording at ``out``; see the module docstring for the rules.

    Two streaming passes over the files (bounded memory: at most ``chunk_records`` records of a
    file are decoded at a time, and rows wait only until every file has read past them)."""
    if not files:
        raise DbnImportError("no DBN files given")
    streams = [DbnStream(f, chunk_records=chunk_records) for f in files]
    notes: list[str] = []
    options = [f for f in streams if f.is_options]
    equities = [f for f in streams if not f.is_options]
    if not options:
        raise DbnImportError(f"{', '.join(str(f.path) for f in streams)}: no OPRA (options) data")
    sv = _survey(streams, underlying)

    # --- contracts
    contracts = _Contracts()
    for defs in sv.defs:
        _contracts_from_definitions(defs, underlying, contracts)
    if contracts.ids:
        notes.append("contracts from Databento definition records")
    n_mapped = _contracts_from_mappings(options, underlying, contracts)
    if n_mapped:
        notes.append(f"{n_mapped} contract(s) from OCC raw symbols (no definition record)")
    if not contracts.ids:
        raise DbnImportError(f"{', '.join(str(f.path) for f in options)}: no contract definitions and no "
                             "OCC symbols in the symbol mappings")

    # --- which records make trades and quotes
    present = {rt for rt, n in sv.option_rtypes.items() if n}
    venue_trades = tuple(rt for rt in _VENUE_TRADE_RTYPES if rt in present)
    cons_trades = tuple(rt for rt in _CONS_TRADE_RTYPES if rt in present)
    trade_rtypes = venue_trades or cons_trades
    if not venue_trades and cons_trades:
        notes.append("trades from consolidated tcbbo/cmbp-1 records (no venue-level trades given)")
    consolidated = tuple(rt for rt in _CONSOLIDATED_RTYPES if rt in present)
    venue_quotes = tuple(rt for rt in _VENUE_QUOTE_RTYPES if rt in present)
    if consolidated:
        quote_source, quote_rtypes = "consolidated", consolidated
    elif venue_quotes:
        quote_source, quote_rtypes = "venue", venue_quotes
        notes.append("no consolidated NBBO (cmbp-1/tcbbo/cbbo) given: quotes are the executing venue's BBO "
                     "from mbp-1/tbbo/bbo, not the NBBO")
    else:
        quote_source, quote_rtypes = "none", ()
        notes.append("no quotes given: trades cannot be classified against an NBBO")

    # --- session date and the expiries kept per underlying
    if sv.hours:
        session_date = _et_date(_median_hour_ns(sv.hours))
    elif sv.min_recv is not None:
        session_date = _et_date(sv.min_recv)
    else:
        raise DbnImportError(f"{', '.join(str(f.path) for f in options)}: no records")
    expiries_of: dict[str, set[dt.date]] = {}
    for u, e in zip(contracts.underlying, contracts.expiry):
        expiries_of.setdefault(u, set()).add(e)
    underlyings = tuple(sorted(expiries_of))
    chosen: dict[str, dt.date] = {}
    terms: dict[str, dt.date | None] = {}
    for u in underlyings:
        expiries = sorted(expiries_of[u])
        later = [e for e in expiries if e >= session_date]
        chosen[u] = later[0] if later else expiries[-1]
        if chosen[u] != session_date:
            notes.append(f"{u}: no {session_date} expiry in the data; using the nearest expiry {chosen[u]}")
        if len(expiries) > 1:
            notes.append(f"{u}: contracts of {len(expiries) - 1} other expiries dropped (one expiry per chain)")
        term = pick_term_expiry(expiries, session_date)
        terms[u] = term if term is not None and term != chosen[u] else None

    # --- open interest: the publishers repeat it; the latest report per instrument wins
    oi_by_iid: dict[int, int] = {}
    if RTYPE_STAT in present:
        st_rows = np.concatenate(sv.oi) if sv.oi else np.empty(0, _record_dtype(RTYPE_STAT))
        st_rows = st_rows[np.lexsort((st_rows["ts_event"], st_rows["instrument_id"]))]
        last = (np.r_[st_rows["instrument_id"][1:] != st_rows["instrument_id"][:-1], True]
                if len(st_rows) else np.empty(0, bool))
        oi_by_iid = dict(zip(st_rows["instrument_id"][last].tolist(), st_rows["quantity"][last].tolist()))
        notes.append(f"settled OI from statistics OPEN_INTEREST for {len(oi_by_iid)} contract(s), "
                     f"{len(st_rows)} report(s) de-duplicated across publishers")
    else:
        notes.append("no statistics given: settled OI is 0")

    # --- definitions, lookups and per-underlying state
    ids = np.asarray(contracts.ids, dtype=np.int64)
    c_under = np.asarray(contracts.underlying, dtype=object)
    c_exp = np.asarray(contracts.expiry, dtype=object)
    c_strike = np.asarray(contracts.strike, dtype=np.float64)
    c_call = np.asarray(contracts.is_call, dtype=bool)
    definitions: list[ChainDefinition] = []
    states: list[_UnderlyingState] = []
    zero_ids, zero_u, zero_c, term_ids, term_u, term_c = [], [], [], [], [], []
    for ui, u in enumerate(underlyings):
        member = (c_under == u) & (c_exp == chosen[u])
        order = np.lexsort((~c_call[member], c_strike[member]))  # by strike, calls first
        m_ids, m_strike, m_call = ids[member][order], c_strike[member][order], c_call[member][order]
        m_sym = [s for s, keep in zip(contracts.symbol, member) if keep]
        m_sym = [m_sym[i] for i in order]
        multipliers = {m for m, keep in zip(contracts.multiplier, member) if keep}
        if len(multipliers) > 1:
            notes.append(f"{u}: mixed contract multipliers {sorted(multipliers)}; using {max(multipliers)}")
        definitions.append(ChainDefinition(
            underlying=u, expiry=chosen[u], strikes=m_strike, is_call=m_call,
            settled_oi=np.array([oi_by_iid.get(int(i), 0) for i in m_ids], dtype=np.int64),
            occ_symbols=tuple(m_sym), multiplier=max(multipliers) if multipliers else CONTRACT_MULTIPLIER))
        zero_ids += m_ids.tolist()
        zero_u += [ui] * len(m_ids)
        zero_c += list(range(len(m_ids)))
        parity = u not in sv.equity_names
        st = _UnderlyingState(name=u, expiry=chosen[u], strikes=m_strike, is_call=m_call, parity=parity,
                              mid_ts=np.full(len(m_ids), -1, np.int64), mid=np.full(len(m_ids), np.nan))
        if terms[u] is not None:
            in_term = (c_under == u) & (c_exp == terms[u])
            st.term = terms[u]
            st.term_strikes, st.term_call = c_strike[in_term], c_call[in_term]
            st.term_mid = np.full(int(in_term.sum()), np.nan)
            term_ids += ids[in_term].tolist()
            term_u += [ui] * int(in_term.sum())
            term_c += list(range(int(in_term.sum())))
        states.append(st)
    plan = _Plan(trade_rtypes=trade_rtypes, quote_rtypes=quote_rtypes, zero=_Lookup(zero_ids, zero_u, zero_c),
                 term=_Lookup(term_ids, term_u, term_c), u_of_name={u: i for i, u in enumerate(underlyings)},
                 underlying=underlying)

    # --- the second pass: events, merged across files in time order
    files_info = tuple((str(f.path), f.schema or "?", sv.records[f.path]) for f in streams)
    writer = RecordingWriter(out, source="databento", simulated=False, session_date=session_date,
                             symbols=underlyings, overwrite=overwrite,
                             extra={"dbn_files": json.dumps([{"path": p, "schema": s, "records": n}
                                                             for p, s, n in files_info]),
                                    "dataset": ",".join(sorted({f.dataset for f in streams}))})
    imp = _Importer(states, writer, rate, LATE_TOLERANCE_NS)
    try:
        for d in definitions:
            writer.write(d)
        imp.run([(f, _normalize(f, plan)) for f in options + equities])
        if imp.trade_dupes:
            notes.append(f"{imp.trade_dupes} duplicate trade record(s) across files dropped")
        late = {"trades": "trade(s)", "quotes": "quote(s)", "term": "later-expiry quote(s)", "spot": "spot print(s)"}
        for kind, what in late.items():
            if imp.late[kind]:
                notes.append(f"{imp.late[kind]} {what} more than {LATE_TOLERANCE_NS // NS_PER_SECOND} s behind "
                             "their file's order were stamped into the next 30 s slice (a sampled quote's time is "
                             "its last update, which can be long before the sample)")
        for f in streams:
            if f.trailing_bytes:
                notes.append(f"{f.path.name}: {f.trailing_bytes} trailing byte(s) of an incomplete record ignored")
            if f.skipped:
                notes.append(f"{f.path.name}: {f.skipped} record(s) of types zdte does not use skipped")
        spot_sources = []
        for st in states:
            if not st.parity:
                spot_sources.append("equities")
                notes.append(f"{st.name}: spot from the underlying's equities records")
            elif st.spot_ticks:
                spot_sources.append("put-call parity")
                notes.append(f"{st.name}: spot derived from put-call parity (S = C - P + K e^(-rT), r = {rate}, "
                             f"median over the {PARITY_STRIKES} strikes nearest the money, per second)")
            else:
                spot_sources.append("unavailable")
                notes.append(f"{st.name}: spot unavailable: no underlying trades given and no call/put pair with "
                             "quotes at a common strike for put-call parity")
            if st.term is not None and st.spot_ticks:
                notes.append(f"{st.name}: vol_context from the {st.term} expiry's ATM quotes every 5 min "
                             f"({st.vols_written} value(s))")
        for note in notes:
            writer.add_note(note)
    finally:
        writer.close()
    spot_source = ("put-call parity" if "put-call parity" in spot_sources else
                   "equities" if "equities" in spot_sources else "unavailable")
    return ImportSummary(out=Path(out), session_date=session_date, underlyings=underlyings,
                         contracts=sum(len(d.strikes) for d in definitions),
                         quotes=sum(s.quotes for s in states), trades=sum(s.trades for s in states),
                         spot_ticks=sum(s.spot_ticks for s in states), quote_source=quote_source,
                         spot_source=spot_source, notes=tuple(notes), files=files_info,
                         max_rows_resident=imp.max_resident)


__all__ = ["DbnFile", "DbnImportError", "DbnStream", "ImportSummary", "import_dbn", "parity_spot", "read_dbn"]
