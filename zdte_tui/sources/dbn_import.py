"""Convert Databento DBN files (OPRA options, optionally equities) into a zdte recording.

``import_dbn(files, out)`` reads any mix of OPRA schemas — definition, statistics, trades,
tbbo, mbp-1, cmbp-1, tcbbo, cbbo-1s/1m, bbo-1s/1m — plus optional equities trades/quotes
for the underlying, and writes one recording (``zdte import-dbn FILES --out PATH``).

Decoding. ``.zst`` files are decompressed with pyarrow's zstd codec (the ``zstandard``
package is not a dependency); the DBN metadata header is decoded with ``databento_dbn``'s
``DBNDecoder``; the records of a single-schema DBN v3 file are viewed in one
``np.frombuffer`` with the record class's own numpy layout (``TradeMsg._dtypes`` ...).
Other files (older DBN versions, mixed record types) go through ``DBNDecoder`` (which
upgrades to v3), one ``bytes(record)`` per record, and the same numpy view.

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
  money, per second (noted); with no call/put pair, spot is unavailable (noted).
"""

from __future__ import annotations

import datetime as dt
import json
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from zdte_tui.market.events import (
    CONTRACT_MULTIPLIER,
    NS_PER_SECOND,
    ChainDefinition,
    Event,
    EventBatch,
    OptionQuotes,
    OptionTrades,
    SpotTicks,
    VolContext,
)
from zdte_tui.market.roots import underlying_of_root
from zdte_tui.market.term import pick_term_expiry
from zdte_tui.store.writer import write_recording

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
DBN_MAGIC = b"DBN"
FIXED_PRICE_SCALE = 1e-9
UNDEF_PRICE = np.iinfo(np.int64).max
UNDEF_TIMESTAMP = np.iinfo(np.uint64).max
UNDEF_I32 = np.iinfo(np.int32).max
UNDEF_STAT_QUANTITY = np.iinfo(np.int64).max
STAT_OPEN_INTEREST = 9
SLICE_NS = 30 * NS_PER_SECOND
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


@dataclass
class DbnFile:
    """One decoded DBN file: its metadata and its records by rtype (numpy structured arrays)."""

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


# ---------------------------------------------------------------------- decoding

def _record_dtype(rtype: int) -> np.dtype:
    import databento_dbn

    return np.dtype(getattr(databento_dbn, _RTYPE_CLASS[rtype])._dtypes)


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DbnImportError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if raw.startswith(ZSTD_MAGIC):
        try:
            with pa.input_stream(pa.BufferReader(raw), compression="zstd") as stream:
                raw = stream.read()
        except (OSError, pa.ArrowInvalid) as exc:
            raise DbnImportError(f"{path}: corrupt zstd data ({exc})") from None
    if not raw.startswith(DBN_MAGIC):
        raise DbnImportError(f"{path}: not a DBN file (magic bytes {raw[:4]!r})")
    return raw


def read_dbn(path: str | Path, *, force_decoder: bool = False) -> DbnFile:
    """Decode one DBN file (plain or zstd) into numpy record arrays grouped by rtype."""
    import databento_dbn

    p = Path(path)
    raw = _read_bytes(p)
    version = raw[3]
    (meta_len,) = struct.unpack_from("<I", raw, 4)
    body_start = 8 + meta_len
    try:
        dec = databento_dbn.DBNDecoder()
        dec.write(raw[:body_start])
        meta = dec.decode()[0]
    except (databento_dbn.DBNError, IndexError) as exc:
        raise DbnImportError(f"{p}: bad DBN metadata ({exc})") from None
    out = DbnFile(path=p, dataset=str(meta.dataset), schema=None if meta.schema is None else str(meta.schema),
                  version=version, mappings=dict(meta.mappings))
    body = memoryview(raw)[body_start:]
    if not force_decoder and version == databento_dbn.DBN_VERSION and not meta.ts_out and len(body):
        rec_len = body[0] * 4
        rtype = body[1]
        if rec_len and len(body) % rec_len == 0 and rtype in _RTYPE_CLASS:
            dtype = _record_dtype(rtype)
            if dtype.itemsize == rec_len:
                arr = np.frombuffer(body, dtype=dtype)
                if (arr["length"] == body[0]).all() and (arr["rtype"] == rtype).all():
                    out.records[rtype] = arr
                    return out
    # Slow path: the library decodes (and upgrades old versions); we re-view the bytes.
    out.fast_path = False
    try:
        dec = databento_dbn.DBNDecoder()
        dec.write(bytes(raw))
        records = dec.decode()
    except databento_dbn.DBNError as exc:
        raise DbnImportError(f"{p}: cannot decode DBN records ({exc})") from None
    by_rtype: dict[int, list[bytes]] = {}
    for rec in records[1:]:
        rtype = int(getattr(rec.rtype, "value", rec.rtype))
        if rtype in _RTYPE_CLASS:
            by_rtype.setdefault(rtype, []).append(bytes(rec)[: _record_dtype(rtype).itemsize])
    for rtype, chunks in by_rtype.items():
        out.records[rtype] = np.frombuffer(b"".join(chunks), dtype=_record_dtype(rtype))
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

    def add(self, iid: int, underlying: str, expiry: dt.date, is_call: bool, strike: float, symbol: str,
            multiplier: int) -> None:
        if iid in self.ids:
            return
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


def _contracts_from_mappings(files: Sequence[DbnFile], underlying_override: str | None, c: _Contracts) -> int:
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
                if iid not in c.ids:
                    added += 1
                c.add(iid, underlying_override or underlying_of_root(osym.root), osym.expiry,
                      osym.is_call, float(osym.strike), format_occ(osym), CONTRACT_MULTIPLIER)
    return added


def _equity_symbol_ids(f: DbnFile) -> dict[int, str]:
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
                max_age_ns: int = PARITY_MAX_QUOTE_AGE_NS) -> tuple[np.ndarray, np.ndarray]:
    """Spot from put-call parity, one value per second: ``S = C - P + K e^{-rT}``.

    ``C``, ``P`` are NBBO mids in force at each whole second (no older than ``max_age_ns``),
    ``T`` = years to ``expiry_close_ns``; the value is the median over the ``n_strikes``
    strikes nearest the first-pass median. Returns ``(ts_ns, price)`` (empty if no pair).
    """
    pair_strikes = np.intersect1d(strikes[is_call], strikes[~is_call])
    valid = (bid > 0) & (ask >= bid) & np.isfinite(bid) & np.isfinite(ask)
    if not len(pair_strikes) or not valid.any():
        return np.empty(0, np.int64), np.empty(0, np.float64)
    qt, qc, mid = quote_ts[valid], quote_contract[valid], (bid[valid] + ask[valid]) / 2
    grid = np.arange((qt.min() // NS_PER_SECOND + 1) * NS_PER_SECOND,
                     (qt.max() // NS_PER_SECOND + 2) * NS_PER_SECOND, NS_PER_SECOND, dtype=np.int64)
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


def _dedup_rows(*columns: np.ndarray) -> np.ndarray:
    """Indices of the first occurrence of each distinct row of ``columns`` (sorted)."""
    if not len(columns[0]):
        return np.empty(0, dtype=np.int64)
    rec = np.rec.fromarrays([np.ascontiguousarray(c) for c in columns])
    _, first = np.unique(rec, return_index=True)
    return np.sort(first)


def import_dbn(files: Sequence[str | Path], out: str | Path, *, underlying: str | None = None,
               rate: float = DEFAULT_RATE) -> ImportSummary:
    """Convert DBN files into a recording at ``out``; see the module docstring for the rules."""
    if not files:
        raise DbnImportError("no DBN files given")
    decoded = [read_dbn(f) for f in files]
    notes: list[str] = []
    options = [f for f in decoded if f.is_options]
    equities = [f for f in decoded if not f.is_options]
    if not options:
        raise DbnImportError(f"{', '.join(str(f.path) for f in decoded)}: no OPRA (options) data")

    def gather(rtypes: Sequence[int], pool: Sequence[DbnFile] = options) -> list[tuple[int, np.ndarray]]:
        return [(rt, f.records[rt]) for f in pool for rt in rtypes if rt in f.records and len(f.records[rt])]

    # --- contracts
    contracts = _Contracts()
    for _, defs in gather([RTYPE_DEF]):
        _contracts_from_definitions(defs, underlying, contracts)
    if contracts.ids:
        notes.append("contracts from Databento definition records")
    n_mapped = _contracts_from_mappings(options, underlying, contracts)
    if n_mapped:
        notes.append(f"{n_mapped} contract(s) from OCC raw symbols (no definition record)")
    if not contracts.ids:
        raise DbnImportError(f"{', '.join(str(f.path) for f in options)}: no contract definitions and no "
                             "OCC symbols in the symbol mappings")

    # --- raw option events (instrument ids), all files pooled
    trade_parts, quote_parts = [], []
    venue_trades = gather([RTYPE_MBP0, RTYPE_MBP1])
    cons_trades = gather([RTYPE_TCBBO, RTYPE_CMBP1])
    for _rtype, arr in (venue_trades or cons_trades):
        is_trade = arr["action"] == b"T"
        a = arr[is_trade]
        seq = a["sequence"].astype(np.int64) if "sequence" in a.dtype.names else np.full(len(a), -1, np.int64)
        trade_parts.append((a["instrument_id"].astype(np.int64), _event_ts(a), a["publisher_id"].astype(np.int64),
                            seq, a["price"], a["size"].astype(np.int64)))
    if not venue_trades and cons_trades:
        notes.append("trades from consolidated tcbbo/cmbp-1 records (no venue-level trades given)")
    consolidated = gather(_CONSOLIDATED_RTYPES)
    venue_quotes = gather([RTYPE_MBP1, RTYPE_BBO1S, RTYPE_BBO1M])
    if consolidated:
        quote_source, quote_pool = "consolidated", consolidated
    elif venue_quotes:
        quote_source, quote_pool = "venue", venue_quotes
        notes.append("no consolidated NBBO (cmbp-1/tcbbo/cbbo) given: quotes are the executing venue's BBO "
                     "from mbp-1/tbbo/bbo, not the NBBO")
    else:
        quote_source, quote_pool = "none", []
        notes.append("no quotes given: trades cannot be classified against an NBBO")
    for rt, arr in quote_pool:
        ts = _event_ts(arr)
        if rt in _SAMPLED_RTYPES:
            defined = arr["ts_event"] != UNDEF_TIMESTAMP
            ts = np.where(defined, np.minimum(ts + 1, arr["ts_recv"].astype(np.int64)), ts)
        quote_parts.append((arr["instrument_id"].astype(np.int64), ts, arr["bid_px_00"], arr["ask_px_00"],
                            arr["bid_sz_00"].astype(np.int64), arr["ask_sz_00"].astype(np.int64)))

    def cat(parts: list[tuple], i: int, dtype) -> np.ndarray:
        return np.concatenate([p[i] for p in parts]).astype(dtype) if parts else np.empty(0, dtype)

    t_iid, t_ts, t_pub, t_seq, t_px, t_size = (cat(trade_parts, i, np.int64) for i in range(6))
    keep = _dedup_rows(t_iid, t_ts, t_pub, t_seq, t_px, t_size)
    n_dupes = len(t_iid) - len(keep)
    t_iid, t_ts, t_pub, t_px, t_size = t_iid[keep], t_ts[keep], t_pub[keep], t_px[keep], t_size[keep]
    if n_dupes:
        notes.append(f"{n_dupes} duplicate trade record(s) across files dropped")
    q_iid, q_ts, q_bid, q_ask, q_bsz, q_asz = (cat(quote_parts, i, np.int64) for i in range(6))
    keep = _dedup_rows(q_iid, q_ts, q_bid, q_ask, q_bsz, q_asz)
    q_iid, q_ts, q_bid, q_ask, q_bsz, q_asz = (a[keep] for a in (q_iid, q_ts, q_bid, q_ask, q_bsz, q_asz))

    # --- session date and the expiry kept per underlying
    times = np.concatenate([t_ts, q_ts])
    if len(times):
        session_date = _et_date(int(np.median(times)))
    else:
        session_date = _et_date(min(int(f.records[rt]["ts_recv"].min()) for f in options for rt in f.records))
    ids = np.asarray(contracts.ids, dtype=np.int64)
    by_underlying: dict[str, dt.date] = {}
    for u in sorted(set(contracts.underlying)):
        expiries = sorted({e for uu, e in zip(contracts.underlying, contracts.expiry) if uu == u})
        later = [e for e in expiries if e >= session_date]
        chosen = later[0] if later else expiries[-1]
        by_underlying[u] = chosen
        dropped = len(expiries) - 1
        if chosen != session_date:
            notes.append(f"{u}: no {session_date} expiry in the data; using the nearest expiry {chosen}")
        if dropped:
            notes.append(f"{u}: contracts of {dropped} other expiries dropped (one expiry per chain)")

    # --- open interest
    oi_by_iid: dict[int, int] = {}
    stats = gather([RTYPE_STAT])
    if stats:
        st = np.concatenate([a for _, a in stats])
        st = st[(st["stat_type"] == STAT_OPEN_INTEREST) & (st["quantity"] != UNDEF_STAT_QUANTITY)]
        order = np.lexsort((st["ts_event"], st["instrument_id"]))  # latest report last per instrument
        st = st[order]
        last = np.r_[st["instrument_id"][1:] != st["instrument_id"][:-1], True] if len(st) else np.empty(0, bool)
        oi_by_iid = dict(zip(st["instrument_id"][last].tolist(), st["quantity"][last].tolist()))
        notes.append(f"settled OI from statistics OPEN_INTEREST for {len(oi_by_iid)} contract(s), "
                     f"{len(st)} report(s) de-duplicated across publishers")
    else:
        notes.append("no statistics given: settled OI is 0")

    # --- equities (underlying trades)
    eq_ts: dict[str, list[np.ndarray]] = {}
    eq_px: dict[str, list[np.ndarray]] = {}
    for f in equities:
        sym_of = _equity_symbol_ids(f)
        for rt, arr in f.records.items():
            if rt in (RTYPE_MBP0, RTYPE_MBP1, RTYPE_CMBP1, RTYPE_TCBBO):
                arr = arr[arr["action"] == b"T"]
                ts, px = _event_ts(arr), _price(arr["price"])
            elif rt in (RTYPE_CBBO1S, RTYPE_CBBO1M, RTYPE_BBO1S, RTYPE_BBO1M):
                ts, px = _event_ts(arr), (_price(arr["bid_px_00"]) + _price(arr["ask_px_00"])) / 2
            else:
                continue
            iids = arr["instrument_id"]
            for iid in np.unique(iids).tolist():
                name = sym_of.get(iid, underlying or "")
                m = (iids == iid) & np.isfinite(px)
                eq_ts.setdefault(name, []).append(ts[m])
                eq_px.setdefault(name, []).append(px[m])

    # --- build events per underlying
    events: list[Event] = []
    underlyings = tuple(sorted(by_underlying))
    totals = {"quotes": 0, "trades": 0, "spot": 0, "contracts": 0}
    spot_sources: list[str] = []
    for u in underlyings:
        expiry = by_underlying[u]
        member = np.array([uu == u and e == expiry for uu, e in zip(contracts.underlying, contracts.expiry)])
        c_ids = ids[member]
        c_strike = np.asarray(contracts.strike)[member]
        c_call = np.asarray(contracts.is_call)[member]
        c_sym = [s for s, m in zip(contracts.symbol, member) if m]
        order = np.lexsort((~c_call, c_strike))  # by strike, calls first
        c_ids, c_strike, c_call = c_ids[order], c_strike[order], c_call[order]
        c_sym = [c_sym[i] for i in order]
        multipliers = {m for m, keep_it in zip(contracts.multiplier, member) if keep_it}
        if len(multipliers) > 1:
            notes.append(f"{u}: mixed contract multipliers {sorted(multipliers)}; using {max(multipliers)}")
        definition = ChainDefinition(
            underlying=u, expiry=expiry, strikes=c_strike, is_call=c_call,
            settled_oi=np.array([oi_by_iid.get(int(i), 0) for i in c_ids], dtype=np.int64),
            occ_symbols=tuple(c_sym), multiplier=max(multipliers) if multipliers else CONTRACT_MULTIPLIER)
        events.append(definition)
        totals["contracts"] += len(c_ids)
        id_order = np.argsort(c_ids)
        sorted_ids = c_ids[id_order]

        def index_of(iid: np.ndarray, sorted_ids: np.ndarray = sorted_ids,
                     id_order: np.ndarray = id_order) -> np.ndarray:
            pos = np.clip(np.searchsorted(sorted_ids, iid), 0, max(len(sorted_ids) - 1, 0))
            found = sorted_ids[pos] == iid if len(sorted_ids) else np.zeros(len(iid), bool)
            return np.where(found, id_order[pos], -1)

        qi = index_of(q_iid)
        qm = qi >= 0
        qo = np.argsort(q_ts[qm], kind="stable")
        quotes = OptionQuotes(ts_ns=q_ts[qm][qo], contract=qi[qm][qo], bid=_price(q_bid[qm][qo]),
                              ask=_price(q_ask[qm][qo]), bid_size=np.minimum(q_bsz[qm][qo], UNDEF_I32),
                              ask_size=np.minimum(q_asz[qm][qo], UNDEF_I32))
        ti = index_of(t_iid)
        tm = ti >= 0
        to = np.argsort(t_ts[tm], kind="stable")
        trades = OptionTrades(ts_ns=t_ts[tm][to], contract=ti[tm][to], price=_price(t_px[tm][to]),
                              size=np.minimum(t_size[tm][to], UNDEF_I32), exchange=t_pub[tm][to])
        if u in eq_ts:
            sts = np.concatenate(eq_ts[u])
            so = np.argsort(sts, kind="stable")
            spot = SpotTicks(ts_ns=sts[so], price=np.concatenate(eq_px[u])[so])
            spot_sources.append("equities")
            notes.append(f"{u}: spot from the underlying's equities records")
        else:
            s_ts, s_px = parity_spot(quotes.ts_ns, quotes.contract, quotes.bid, quotes.ask, c_strike, c_call,
                                     _session_close_ns(expiry), rate=rate)
            spot = SpotTicks(ts_ns=s_ts, price=s_px)
            if len(s_ts):
                spot_sources.append("put-call parity")
                notes.append(f"{u}: spot derived from put-call parity (S = C - P + K e^(-rT), r = {rate}, "
                             f"median over the {PARITY_STRIKES} strikes nearest the money, per second)")
            else:
                spot_sources.append("unavailable")
                notes.append(f"{u}: spot unavailable: no underlying trades given and no call/put pair with "
                             "quotes at a common strike for put-call parity")
        totals["quotes"] += len(quotes)
        totals["trades"] += len(trades)
        totals["spot"] += len(spot)
        events.extend(_slice_into_batches(u, spot, quotes, trades))
        term = pick_term_expiry({e for uu, e in zip(contracts.underlying, contracts.expiry) if uu == u}, session_date)
        if term is not None and term != expiry and len(spot):
            in_term = np.array([uu == u and e == term for uu, e in zip(contracts.underlying, contracts.expiry)])
            vols = term_vol_events(u, term, ids[in_term], np.asarray(contracts.strike)[in_term],
                                   np.asarray(contracts.is_call)[in_term], q_iid, q_ts, _price(q_bid),
                                   _price(q_ask), spot, rate)
            events.extend(vols)
            notes.append(f"{u}: vol_context from the {term} expiry's ATM quotes every 5 min "
                         f"({len(vols)} value(s))")
    first_def = [e for e in events if isinstance(e, ChainDefinition)]
    batches = sorted((e for e in events if isinstance(e, EventBatch)), key=lambda b: b.end_ns)
    batches += [e for e in events if isinstance(e, VolContext)]
    files_info = tuple((str(f.path), f.schema or "?", f.n_records) for f in decoded)
    write_recording(out, [*first_def, *batches], source="databento", simulated=False,
                    session_date=session_date, symbols=underlyings, notes=notes,
                    extra={"dbn_files": json.dumps([{"path": p, "schema": s, "records": n}
                                                    for p, s, n in files_info]),
                           "dataset": ",".join(sorted({f.dataset for f in decoded}))})
    spot_source = ("put-call parity" if "put-call parity" in spot_sources else
                   "equities" if "equities" in spot_sources else "unavailable")
    return ImportSummary(out=Path(out), session_date=session_date, underlyings=underlyings,
                         contracts=totals["contracts"], quotes=totals["quotes"], trades=totals["trades"],
                         spot_ticks=totals["spot"], quote_source=quote_source, spot_source=spot_source,
                         notes=tuple(notes), files=files_info)


TERM_VOL_STEP_NS = 5 * 60 * NS_PER_SECOND


def term_vol_events(u: str, term: dt.date, ids: np.ndarray, strikes: np.ndarray, is_call: np.ndarray,
                    q_iid: np.ndarray, q_ts: np.ndarray, bid: np.ndarray, ask: np.ndarray, spot: SpotTicks,
                    rate: float) -> list[VolContext]:
    """VolContext every 5 minutes of spot: the ``term`` expiry's ATM IV (docs/model.md, "Vol context").

    At each boundary b: spot = last print at or before b; the strike nearest spot (lower on a tie);
    each side's NBBO mid in force at b (bid > 0, ask >= bid); its Black-Scholes IV with
    T = (16:00 ET on ``term`` - b) / ACT/365, rate ``rate``, no dividend; the mean of the sides that
    have one. Boundaries without a usable IV emit nothing."""
    from zdte_tui.engine.greeks import implied_vol

    if not len(ids) or not len(spot):
        return []
    close_ns = _session_close_ns(term)
    first, last = int(spot.ts_ns[0]), int(spot.ts_ns[-1])
    bounds = np.arange((first // TERM_VOL_STEP_NS + 1) * TERM_VOL_STEP_NS, last + 1, TERM_VOL_STEP_NS, dtype=np.int64)
    ok = np.isin(q_iid, ids) & (bid > 0) & (ask >= bid) & np.isfinite(bid) & np.isfinite(ask)
    qi, qt, mid = q_iid[ok], q_ts[ok], (bid[ok] + ask[ok]) / 2
    order = np.lexsort((qt, qi))
    qi, qt, mid = qi[order], qt[order], mid[order]
    grid = np.unique(strikes)
    out: list[VolContext] = []
    for b in bounds.tolist():
        k_s = int(np.searchsorted(spot.ts_ns, b, side="right")) - 1
        s = float(spot.price[k_s])
        if not (np.isfinite(s) and s > 0):
            continue
        k = grid[int(np.argmin(np.abs(grid - s)))]
        vols = []
        for iid, call in zip(ids[strikes == k].tolist(), is_call[strikes == k].tolist()):
            lo, hi = np.searchsorted(qi, [iid, iid + 1])
            j = int(np.searchsorted(qt[lo:hi], b, side="right")) - 1
            if j < 0:
                continue
            t = max(close_ns - b, 0) / NS_PER_YEAR
            iv = float(implied_vol(np.array([call]), np.array([mid[lo + j]]), s, k, t, rate, 0.0)[0])
            if np.isfinite(iv) and iv > 0:
                vols.append(iv)
        if vols:
            out.append(VolContext(underlying=u, ts_ns=b, term_expiry=term, term_atm_iv=float(np.mean(vols)),
                                  origin="dbn"))
    return out


def _slice_into_batches(u: str, spot: SpotTicks, quotes: OptionQuotes, trades: OptionTrades) -> list[EventBatch]:
    """30 s batches ``(kW, (k+1)W]`` from the first to the last event (quiet slices included)."""
    all_ts = np.concatenate([spot.ts_ns, quotes.ts_ns, trades.ts_ns])
    if not len(all_ts):
        return []
    k0, k1 = (int(all_ts.min()) - 1) // SLICE_NS, (int(all_ts.max()) - 1) // SLICE_NS
    edges = np.arange(k0, k1 + 2, dtype=np.int64) * SLICE_NS
    cut = {name: np.searchsorted(arr.ts_ns, edges, side="right") for name, arr in
           (("s", spot), ("q", quotes), ("t", trades))}
    out = []
    for k in range(len(edges) - 1):
        s = slice(cut["s"][k], cut["s"][k + 1])
        q = slice(cut["q"][k], cut["q"][k + 1])
        t = slice(cut["t"][k], cut["t"][k + 1])
        out.append(EventBatch(
            underlying=u, start_ns=int(edges[k]), end_ns=int(edges[k + 1]),
            spot=SpotTicks(ts_ns=spot.ts_ns[s], price=spot.price[s]),
            quotes=OptionQuotes(ts_ns=quotes.ts_ns[q], contract=quotes.contract[q], bid=quotes.bid[q],
                                ask=quotes.ask[q], bid_size=quotes.bid_size[q], ask_size=quotes.ask_size[q]),
            trades=OptionTrades(ts_ns=trades.ts_ns[t], contract=trades.contract[t], price=trades.price[t],
                                size=trades.size[t], exchange=trades.exchange[t])))
    return out


__all__ = ["DbnFile", "DbnImportError", "ImportSummary", "import_dbn", "parity_spot", "read_dbn"]
