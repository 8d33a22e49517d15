"""Read recordings (finalized Parquet or an in-progress / crashed Arrow IPC stream).

:meth:`Recording.open` reads the whole file with pyarrow, groups rows by (underlying, kind)
with one stable sort and keeps per-underlying numpy arrays; :meth:`Recording.events` then
cuts them into time slices with ``searchsorted`` (views, no copies, no per-row Python).
"""

from __future__ import annotations

import datetime as dt
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from zdte_tui.market.calendar import ET
from zdte_tui.market.events import (
    NS_PER_SECOND,
    ChainDefinition,
    Event,
    EventBatch,
    OptionQuotes,
    OptionTrades,
    SpotTicks,
    VolContext,
)
from zdte_tui.store import footer
from zdte_tui.store import format as fmt
from zdte_tui.store.format import RecordingError, RecordingMetadata

DEFAULT_SLICE_SECONDS = 30
_PAYLOAD_KINDS = (fmt.KIND_DEFINITION, fmt.KIND_STATUS, fmt.KIND_SYMBOL, fmt.KIND_NOTE, fmt.KIND_TRUTH,
                  fmt.KIND_VOL)
# Rows a recorded SessionReset does not invalidate (names, notes, truth).
_TIMELESS_KINDS = (fmt.KIND_SYMBOL, fmt.KIND_NOTE, fmt.KIND_TRUTH)
_PRIO_BATCH, _PRIO_AFTER_BATCHES = 1, 2
# What damaged bytes can raise from pyarrow, JSON/UTF-8 decoding and numpy while a file is opened.
_DAMAGE_ERRORS = (pa.ArrowException, UnicodeDecodeError, ValueError, KeyError, IndexError, TypeError,
                  OverflowError, MemoryError)


@dataclass(frozen=True)
class UnderlyingData:
    """All recorded rows of one underlying, each group sorted by time (as written)."""

    underlying: str
    spot: SpotTicks
    quotes: OptionQuotes
    trades: OptionTrades
    batch_start_ns: np.ndarray  # int64, one per recorded EventBatch
    batch_end_ns: np.ndarray  # int64


def _parquet_metadata(path: Path) -> tuple[pq.FileMetaData, list[str]]:
    """The file's Parquet metadata, cross-checked with the footer copy near its start
    (:mod:`zdte_tui.store.footer`): a damaged or missing footer is replaced by an intact copy."""
    warnings: list[str] = []
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(1 << 20)
            f.seek(max(0, size - 8))
            tail = f.read(8)
            real: bytes | None = None
            if len(tail) == 8 and tail[4:] == footer.PARQUET_MAGIC:
                n = int.from_bytes(tail[:4], "little")
                if 0 < n <= size - 12:
                    f.seek(size - 8 - n)
                    real = f.read(n)
    except OSError as exc:
        raise RecordingError(path, f"cannot read ({exc.strerror or exc})") from None
    copy, crc, problem = footer.read_block(head)
    if copy is None:  # no (readable) footer copy: a plain Parquet file
        if real is None:
            raise RecordingError(path, "corrupt or truncated Parquet file (no footer and no readable footer copy)")
        chosen = real
    elif real is not None and zlib.crc32(real) == crc:
        chosen = real
        if problem:
            warnings.append(f"the footer copy is damaged ({problem}); the footer itself is intact")
    elif copy is not None and problem is None:
        chosen = copy
        warnings.append("the Parquet footer is missing or damaged (truncated file?): reading with its copy")
    elif real is not None and real == copy:
        chosen = real  # only the stored crc32 was hit
        warnings.append("the footer copy's checksum is damaged; footer and copy agree")
    else:
        raise RecordingError(path, "corrupt Parquet file: the footer and its copy are both damaged")
    try:
        return pq.read_metadata(pa.BufferReader(footer.parquet_tail(chosen))), warnings
    except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as exc:
        raise RecordingError(path, f"corrupt Parquet footer ({exc})") from None


def _read_parquet(path: Path) -> tuple[pa.Table, list[str]]:
    """Read row group by row group with page checksums verified; a row group that fails (bad
    checksum, cut off by truncation) is reported and skipped, every intact one is kept."""
    metadata, warnings = _parquet_metadata(path)
    try:
        pf = pq.ParquetFile(path, memory_map=True, metadata=metadata, page_checksum_verification=True)
    except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as exc:
        raise RecordingError(path, f"corrupt or truncated Parquet file ({exc})") from None
    groups: list[pa.Table] = []
    lost: list[str] = []
    first_row = 0
    for i in range(metadata.num_row_groups):
        n = metadata.row_group(i).num_rows
        try:
            group = pf.read_row_group(i)
            if group.num_rows != n:
                raise ValueError(f"{group.num_rows} rows instead of {n}")
            groups.append(group)
        except (pa.ArrowException, OSError, ValueError) as exc:
            lost.append(f"row group {i} (rows {first_row:,}-{first_row + n - 1:,}): {str(exc).splitlines()[0][:120]}")
        first_row += n
    if lost:
        warnings.append(f"{len(lost)} of {metadata.num_row_groups} row groups are damaged or missing and were "
                        f"skipped: " + "; ".join(lost[:5]) + (" ..." if len(lost) > 5 else ""))
    schema = metadata.schema.to_arrow_schema()
    try:
        table = pa.concat_tables(groups) if groups else schema.empty_table()
    except pa.ArrowInvalid as exc:
        raise RecordingError(path, f"row groups do not share one schema ({exc})") from None
    return table.replace_schema_metadata(schema.metadata), warnings


def _read_ipc_stream(path: Path) -> tuple[pa.Table, list[str]]:
    """Read every complete record batch; a torn tail becomes a warning, not an error. A batch whose
    stored crc32 does not match its bytes is skipped and reported."""
    warnings: list[str] = []
    try:
        source = pa.memory_map(str(path))
        reader = pa.ipc.open_stream(source)
    except (pa.ArrowInvalid, OSError) as exc:
        raise RecordingError(path, f"truncated before the end of its schema: nothing to replay ({exc})") from None
    batches: list[pa.RecordBatch] = []
    damaged = 0
    damaged_rows = 0
    while True:
        try:
            batch, custom = reader.read_next_batch_with_custom_metadata()
        except StopIteration:
            unread = source.size() - source.tell()
            if unread > 0:
                warnings.append(f"an end-of-stream marker {unread:,} bytes before the end of the file "
                                f"(damaged?): replaying the {sum(b.num_rows for b in batches):,} rows before it")
            break
        except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as exc:
            n = sum(b.num_rows for b in batches)
            warnings.append(f"truncated after {n:,} rows: replaying what is intact "
                            f"({str(exc).splitlines()[0][:160]})")
            break
        stored = (custom or {}).get(fmt.BATCH_CRC_KEY.encode()) if custom is not None else None
        try:
            intact = stored is None or int(stored) == fmt.batch_crc(batch)
            if intact:
                batch.validate(full=True)
        except (ValueError, pa.ArrowInvalid):
            intact = False
        if intact:
            batches.append(batch)
        else:
            damaged += 1
            damaged_rows += batch.num_rows
    if damaged:
        warnings.append(f"{damaged} flushed batch(es) ({damaged_rows:,} rows) fail their checksum and were skipped")
    try:
        table = pa.Table.from_batches(batches, schema=reader.schema)
    except pa.ArrowInvalid as exc:
        raise RecordingError(path, f"record batches do not match the schema ({exc})") from None
    return table, warnings


def _column_numpy(column: pa.ChunkedArray, dtype: np.dtype) -> np.ndarray:
    """One numeric column as numpy without pandas: pyarrow's to_numpy imports pandas (+0.5 s on
    first use), so null-free fixed-width chunks are viewed straight from their Arrow data buffer."""
    parts = []
    for chunk in column.chunks:
        if chunk.null_count == 0 and pa.types.is_primitive(chunk.type) and not pa.types.is_boolean(chunk.type):
            width = np.dtype(chunk.type.to_pandas_dtype()).itemsize
            data = chunk.buffers()[1]
            parts.append(np.frombuffer(data, dtype=np.dtype(chunk.type.to_pandas_dtype()),
                                       count=len(chunk), offset=chunk.offset * width))
        else:
            parts.append(chunk.to_numpy(zero_copy_only=False))
    if not parts:
        return np.empty(0, dtype=dtype)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


class Recording:
    """An opened recording: metadata, definitions, per-underlying arrays, truth.

    ``warnings`` lists what was wrong but recoverable (torn IPC tail, not finalized,
    recorded SessionResets). Use :meth:`open`; errors raise :class:`RecordingError`.
    """

    def __init__(self, path: Path, file_format: str, metadata: RecordingMetadata,
                 table: pa.Table, warnings: list[str]) -> None:
        self.path = path
        self.file_format = file_format
        self.metadata = metadata
        self.warnings = list(warnings)
        self.n_rows = table.num_rows
        self._decode(table)

    @classmethod
    def open(cls, path: str | Path) -> Recording:
        """Open a finalized (Parquet) or in-progress/crashed (IPC stream) recording.

        Anything the file's bytes make impossible to read (damaged structure, bad UTF-8, types
        pyarrow refuses) is a :class:`RecordingError` naming the file, never another exception."""
        p = Path(path)
        file_format = fmt.sniff_format(p)
        try:
            return cls._open(p, file_format)
        except _DAMAGE_ERRORS as exc:
            raise RecordingError(p, f"damaged recording ({type(exc).__name__}: "
                                    f"{str(exc).splitlines()[0][:160] if str(exc) else ''})") from None

    @classmethod
    def _open(cls, p: Path, file_format: str) -> Recording:
        table, warnings = _read_parquet(p) if file_format == "parquet" else _read_ipc_stream(p)
        metadata = RecordingMetadata.from_arrow(table.schema.metadata, p)
        missing = [f.name for f in fmt.SCHEMA if f.name not in table.column_names]
        if missing:
            raise RecordingError(p, f"missing columns {missing} (not a zdte recording?)")
        for f in fmt.SCHEMA:
            if table.schema.field(f.name).type != f.type:
                raise RecordingError(p, f"column {f.name!r} has type {table.schema.field(f.name).type}, expected "
                                        f"{f.type} (damaged file?)")
        if file_format == "ipc_stream":
            warnings.insert(0, "recording was not finalized (recorder still running or killed): "
                               f"replaying {table.num_rows:,} flushed rows")
        return cls(p, file_format, metadata, table.select([f.name for f in fmt.SCHEMA]), warnings)

    # ------------------------------------------------------------------ decoding
    def _decode(self, table: pa.Table) -> None:
        if any(table.column(name).num_chunks > 1 for name in fmt.COLUMN_DTYPES):
            table = table.combine_chunks()
        # Array.to_numpy (not ChunkedArray.to_numpy, which imports pandas: +0.5 s on first use)
        col = {name: _column_numpy(table.column(name), fmt.COLUMN_DTYPES[name]) for name in fmt.COLUMN_DTYPES}
        kind, sym, ts = col["kind"], col["sym"], col["ts_ns"]
        keep = np.ones(len(kind), dtype=bool)
        reset_rows = np.flatnonzero(kind == fmt.KIND_RESET)
        self._recorded_resets = len(reset_rows)
        if len(reset_rows):
            last = reset_rows[-1]
            keep[: last + 1] = _kind_mask(_TIMELESS_KINDS)[kind[: last + 1]]
            self.warnings.append(
                f"recording holds {len(reset_rows)} SessionReset(s) (a replay was seeked backwards while "
                "recording): replaying the events after the last one")
        payload_rows = np.flatnonzero(_kind_mask(_PAYLOAD_KINDS)[kind] & keep)
        payloads = table.column("payload").take(pa.array(payload_rows)).to_pylist() if len(payload_rows) else []

        names: dict[int, str] = {}
        notes: list[str] = []
        self._truth: dict[str, dict[str, np.ndarray]] = {}
        defs: list[tuple[int, int, ChainDefinition]] = []  # (ts, row, definition)
        statuses: list[tuple[int, int, int, int, bytes]] = []  # (ts, row, sym, count, payload)
        vols: list[tuple[int, int, bytes]] = []  # (ts, sym, payload) of VolContext rows
        for row, payload in zip(payload_rows.tolist(), payloads):
            k = int(kind[row])
            if k == fmt.KIND_SYMBOL:
                names[int(sym[row])] = payload.decode()
        try:
            for row, payload in zip(payload_rows.tolist(), payloads):
                k = int(kind[row])
                if k == fmt.KIND_NOTE:
                    notes.append(payload.decode())
                elif k == fmt.KIND_DEFINITION:
                    defs.append((int(ts[row]), row, fmt.decode_definition(payload)))
                elif k == fmt.KIND_STATUS:
                    statuses.append((int(ts[row]), row, int(sym[row]), int(col["aux"][row]), payload))
                elif k == fmt.KIND_VOL:
                    vols.append((int(ts[row]), int(sym[row]), payload))
                elif k == fmt.KIND_TRUTH:
                    name, values = fmt.decode_truth_array(payload)
                    self._truth.setdefault(names.get(int(sym[row]), str(int(sym[row]))), {})[name] = values
        except (ValueError, KeyError, UnicodeDecodeError) as exc:
            raise RecordingError(self.path, f"corrupt payload row {row:,} ({exc!r})") from None
        self.notes = notes
        self._names = names
        self._definition_rows = defs
        self.definitions: dict[str, ChainDefinition] = {d.underlying: d for _, _, d in defs}
        self._statuses = [fmt.decode_status(p, t, names.get(s) if s >= 0 else None, c)
                          for t, _, s, c, p in statuses]
        self._vol_contexts = [fmt.decode_vol_context(p, t, names.get(s, str(s))) for t, s, p in vols]

        # Rows of one (sym, kind) group, in write (= time) order: one vectorized comparison per group
        # (cheaper than sorting all rows when there are a few underlyings).
        group_kinds = (fmt.KIND_SPOT, fmt.KIND_QUOTE, fmt.KIND_TRADE, fmt.KIND_CLOCK)
        rows = np.flatnonzero(keep & _kind_mask(group_kinds)[kind])
        key_dtype = np.uint16 if (int(sym.max(initial=0)) + 2) * fmt.N_KINDS <= np.iinfo(np.uint16).max else np.int32
        key = np.full(len(kind), -1 if key_dtype == np.int32 else np.iinfo(np.uint16).max, dtype=key_dtype)
        key[rows] = (sym[rows].astype(key_dtype) + 1) * fmt.N_KINDS + kind[rows].astype(key_dtype)
        self.underlyings: dict[str, UnderlyingData] = {}

        def group(code: int, k: int) -> np.ndarray:
            return np.flatnonzero(key == (code + 1) * fmt.N_KINDS + k)

        day = _session_day_ns(self.metadata.session_date)
        self.skipped_rows = 0
        codes = sorted(set(np.unique(sym[rows]).tolist()) | {c for c, n in names.items() if n in self.definitions})
        for code in codes:
            if code < 0:
                continue
            found = names.get(code)
            if found is None:
                raise RecordingError(self.path, f"rows reference underlying code {code} with no SYMBOL row")
            name = found
            i_spot, i_q, i_t, i_c = (group(code, k) for k in group_kinds)
            i_spot, i_q, i_t = (self._checked_times(name, label, idx, ts, day)
                                for label, idx in (("spot", i_spot), ("quote", i_q), ("trade", i_t)))
            i_c = self._checked_batches(name, i_c, ts, col["aux"], day)
            self.underlyings[name] = UnderlyingData(
                underlying=name,
                spot=SpotTicks(ts_ns=ts[i_spot], price=col["price"][i_spot]),
                quotes=OptionQuotes(ts_ns=ts[i_q], contract=col["contract"][i_q], bid=col["bid"][i_q],
                                    ask=col["ask"][i_q], bid_size=col["bid_size"][i_q],
                                    ask_size=col["ask_size"][i_q]),
                trades=OptionTrades(ts_ns=ts[i_t], contract=col["contract"][i_t], price=col["price"][i_t],
                                    size=col["size"][i_t], exchange=col["exchange"][i_t]),
                batch_start_ns=col["aux"][i_c].astype(np.int64), batch_end_ns=ts[i_c].astype(np.int64),
            )
        self._sym_order = {name: i for i, name in enumerate(self.underlyings)}

    def _checked_times(self, name: str, label: str, idx: np.ndarray, ts: np.ndarray,
                       day: tuple[int, int] | None) -> np.ndarray:
        """``idx`` without rows stamped outside the session day or out of time order (reported)."""
        keep = _plausible_times(ts[idx], day)
        if keep.all():
            return idx
        bad = int((~keep).sum())
        self.skipped_rows += bad
        self.warnings.append(f"{name}: {bad:,} {label} row(s) with a timestamp outside the session day or out "
                             f"of time order skipped (damaged recording?)")
        return idx[keep]

    def _checked_batches(self, name: str, idx: np.ndarray, ts: np.ndarray, aux: np.ndarray,
                         day: tuple[int, int] | None) -> np.ndarray:
        """CLOCK rows (batch bounds) kept only when ``start <= end``, both in the day, ends in order."""
        start, end = aux[idx], ts[idx]
        keep = start <= end
        if day is not None:
            keep &= (start >= day[0] - DAY_MARGIN_NS) & (start < day[1])
        ok = np.flatnonzero(keep)
        ok = ok[_plausible_times(end[ok], day)]
        ok = ok[_plausible_times(start[ok], None)]
        if len(ok) == len(idx):
            return idx
        bad = len(idx) - len(ok)
        self.skipped_rows += bad
        self.warnings.append(f"{name}: {bad:,} batch bound row(s) out of range or order skipped "
                             f"(damaged recording?)")
        return idx[ok]

    # ------------------------------------------------------------------ queries
    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self.underlyings)

    @property
    def time_range(self) -> tuple[int, int] | None:
        """(first_ns, last_ns) over events and recorded batch bounds; None if nothing recorded."""
        firsts, lasts = [], []
        for u in self.underlyings.values():
            for arr in (u.spot.ts_ns, u.quotes.ts_ns, u.trades.ts_ns):
                if len(arr):
                    firsts.append(int(arr[0]))
                    lasts.append(int(arr[-1]))
            if len(u.batch_end_ns):
                firsts.append(int(u.batch_start_ns.min()))
                lasts.append(int(u.batch_end_ns.max()))
        return (min(firsts), max(lasts)) if firsts else None

    def truth(self, underlying: str) -> dict[str, np.ndarray] | None:
        """Simulator truth arrays stored with :meth:`RecordingWriter.write_truth` (never replayed)."""
        t = self._truth.get(underlying)
        return dict(t) if t is not None else None

    def definitions_at(self, ts_ns: int | None) -> dict[str, ChainDefinition]:
        """The latest definition per underlying written at writer-clock <= ``ts_ns`` (None: all)."""
        out: dict[str, ChainDefinition] = {}
        for t, _, d in self._definition_rows:
            if ts_ns is None or t <= ts_ns:
                out[d.underlying] = d
        return out

    def events(self, start_ns: int | None = None, end_ns: int | None = None,
               slice_seconds: float | None = DEFAULT_SLICE_SECONDS, *,
               symbols: Iterable[str] | None = None,
               definitions_in_force: bool = True) -> Iterator[Event]:
        """Yield the recording's events in ``(start_ns, end_ns]`` in time order.

        Batches cover the half-open slices ``(k*W, (k+1)*W]`` with ``W = slice_seconds``
        (30 s: aligned to ET :00/:30), clipped to the window and to the time the recording
        observed (its batches' ``end_ns``); quiet slices come as empty batches, unrecorded
        stretches (gaps) are skipped. ``slice_seconds=None`` yields the batches as recorded.
        Definitions come before the first batch that may use them (writer clock order);
        FeedStatus events after the batches ending at or before their ``ts_ns``. With
        ``start_ns`` set, the definitions in force at ``start_ns`` come first unless
        ``definitions_in_force=False``.
        """
        lo_ns = np.iinfo(np.int64).min if start_ns is None else int(start_ns)
        hi_ns = np.iinfo(np.int64).max if end_ns is None else int(end_ns)
        wanted = set(self.underlyings) if symbols is None else set(symbols)
        items: list[tuple[int, int, int, object]] = []  # (time, priority, seq, event or thunk)
        seq = 0
        if start_ns is not None and definitions_in_force:
            for d in self.definitions_at(lo_ns).values():
                if d.underlying in wanted:
                    items.append((lo_ns, 0, seq, d))
                    seq += 1
            in_force: dict[str, VolContext] = {}  # the VolContext in force at start_ns, per underlying
            for v in self._vol_contexts:
                if v.underlying in wanted and v.ts_ns <= lo_ns:
                    in_force[v.underlying] = v
            for v in in_force.values():
                items.append((lo_ns, 0, seq, v))
                seq += 1
        for t, _row, d in self._definition_rows:
            if d.underlying in wanted and (start_ns is None or t > lo_ns) and t <= hi_ns:
                items.append((t, _PRIO_AFTER_BATCHES, seq, d))
                seq += 1
        for name in sorted(wanted & set(self.underlyings), key=self._sym_order.__getitem__):
            u = self.underlyings[name]
            bounds = (self._recorded_bounds(u, lo_ns, hi_ns) if slice_seconds is None
                      else self._slice_bounds(u, lo_ns, hi_ns, int(round(slice_seconds * NS_PER_SECOND))))
            b_lo, b_hi = bounds
            cuts = [np.searchsorted(arr, edges, side="right").tolist()
                    for arr in (u.spot.ts_ns, u.quotes.ts_ns, u.trades.ts_ns) for edges in (b_lo, b_hi)]
            for lo, hi, *ix in zip(b_lo.tolist(), b_hi.tolist(), *cuts):
                items.append((hi, _PRIO_BATCH, seq, (u, lo, hi, ix)))
                seq += 1
        for s in self._statuses:
            if (s.underlying is None or s.underlying in wanted) and lo_ns < s.ts_ns <= hi_ns:
                items.append((s.ts_ns, _PRIO_AFTER_BATCHES, seq, s))
                seq += 1
        for v in self._vol_contexts:
            if v.underlying in wanted and lo_ns < v.ts_ns <= hi_ns:
                items.append((v.ts_ns, _PRIO_AFTER_BATCHES, seq, v))
                seq += 1
        items.sort(key=lambda it: (it[0], it[1], it[2]))
        for _, _, _, item in items:
            if isinstance(item, tuple):
                yield self._batch(*item)
            else:
                yield item  # type: ignore[misc]

    @staticmethod
    def _batch(u: UnderlyingData, lo: int, hi: int, ix: list[int]) -> EventBatch:
        """The events of ``u`` with ``lo < ts <= hi``; ``ix`` holds their row ranges (views)."""
        s, q, t = slice(ix[0], ix[1]), slice(ix[2], ix[3]), slice(ix[4], ix[5])
        qs, ts = u.quotes, u.trades
        return EventBatch(
            underlying=u.underlying, start_ns=lo, end_ns=hi,
            spot=SpotTicks(ts_ns=u.spot.ts_ns[s], price=u.spot.price[s]),
            quotes=OptionQuotes(ts_ns=qs.ts_ns[q], contract=qs.contract[q], bid=qs.bid[q], ask=qs.ask[q],
                                bid_size=qs.bid_size[q], ask_size=qs.ask_size[q]),
            trades=OptionTrades(ts_ns=ts.ts_ns[t], contract=ts.contract[t], price=ts.price[t],
                                size=ts.size[t], exchange=ts.exchange[t]),
        )

    @staticmethod
    def _recorded_bounds(u: UnderlyingData, lo_ns: int, hi_ns: int) -> tuple[np.ndarray, np.ndarray]:
        starts = np.maximum(u.batch_start_ns, lo_ns)
        ends = np.minimum(u.batch_end_ns, hi_ns)
        ok = ends > starts
        return starts[ok], ends[ok]

    @staticmethod
    def _slice_bounds(u: UnderlyingData, lo_ns: int, hi_ns: int, width_ns: int) -> tuple[np.ndarray, np.ndarray]:
        """Slices ``(max(kW, lo), min((k+1)W, hi, observed)]`` touched by a recorded batch or an event."""
        if width_ns <= 0:
            raise ValueError("slice_seconds must be positive (or None for the recorded batches)")
        b_lo = np.maximum(u.batch_start_ns, lo_ns)
        b_hi = np.minimum(u.batch_end_ns, hi_ns)
        ok = b_hi > b_lo
        b_lo, b_hi = b_lo[ok], b_hi[ok]
        k_first = b_lo // width_ns  # slice (kW, (k+1)W] holds times just above b_lo
        k_last = (b_hi - 1) // width_ns
        if len(k_first):  # merge overlapping slice ranges first: the expansion below is then bounded
            order = np.argsort(k_first, kind="stable")  # by the time span covered, not by batches x span
            kf, kl = k_first[order], k_last[order]
            reach = np.maximum.accumulate(kl)
            starts = np.concatenate(([True], kf[1:] > reach[:-1] + 1))
            k_first = kf[starts]
            k_last = np.maximum.reduceat(kl, np.flatnonzero(starts))
        counts = k_last - k_first + 1
        total = int(counts.sum())
        if total > MAX_SLICES:
            raise ValueError(f"{u.underlying}: {total:,} slices of {width_ns / NS_PER_SECOND:g} s would be needed "
                             f"(more than {MAX_SLICES:,}); use a wider slice")
        ks_batches = (np.repeat(k_first, counts)
                      + np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts))
        windows = []  # each event array restricted to (lo_ns, hi_ns]: sorted, so a view
        for arr in (u.spot.ts_ns, u.quotes.ts_ns, u.trades.ts_ns):
            a, b = np.searchsorted(arr, (lo_ns, hi_ns), side="right")
            windows.append(arr[a:b])
        event_ks = []
        for arr in windows:
            k = (arr - 1) // width_ns  # sorted
            event_ks.append(k[np.concatenate(([True], k[1:] != k[:-1]))] if len(k) else k)
        ks = np.unique(np.concatenate([ks_batches, *event_ks]))
        slice_lo = np.maximum(ks * width_ns, lo_ns)
        slice_hi = np.minimum((ks + 1) * width_ns, hi_ns)
        # Observed-until inside each slice: the furthest recorded batch end among batches that
        # start before the slice ends, or the last event in the slice.
        if len(b_lo):
            cummax_end = np.maximum.accumulate(b_hi)
            idx = np.searchsorted(b_lo, slice_hi, side="left") - 1
            observed = np.where(idx >= 0, cummax_end[np.maximum(idx, 0)], np.iinfo(np.int64).min)
        else:
            observed = np.full(len(ks), np.iinfo(np.int64).min, dtype=np.int64)
        last_event = np.full(len(ks), np.iinfo(np.int64).min, dtype=np.int64)
        for arr in windows:
            i = np.searchsorted(arr, slice_lo, side="right")
            j = np.searchsorted(arr, slice_hi, side="right")
            last_event = np.where(j > i, np.maximum(last_event, arr[np.maximum(j - 1, 0)] if len(arr) else 0),
                                  last_event)
        slice_hi = np.minimum(slice_hi, np.maximum(observed, last_event))
        ok = slice_hi > slice_lo
        return slice_lo[ok], slice_hi[ok]


DAY_MARGIN_NS = 60 * NS_PER_SECOND  # a first batch may start just before ET midnight ((t-30 s, t])
_MAX_REPAIR_PASSES = 16
MAX_SLICES = 5_000_000  # _slice_bounds refuses to build more slices than this


def _session_day_ns(session_date: dt.date | None) -> tuple[int, int] | None:
    """``[00:00, 24:00)`` ET of the session date in ns UTC (None when the date is unknown)."""
    if session_date is None:
        return None
    start = dt.datetime.combine(session_date, dt.time(0), tzinfo=ET)
    end = dt.datetime.combine(session_date + dt.timedelta(days=1), dt.time(0), tzinfo=ET)
    return int(start.timestamp()) * NS_PER_SECOND, int(end.timestamp()) * NS_PER_SECOND


def _plausible_times(t: np.ndarray, day: tuple[int, int] | None) -> np.ndarray:
    """Mask of rows to keep: inside the session day, then in non-decreasing order.

    Out-of-order rows come from damage (a flipped bit turns 10:31 into 2069 or into 03:12). Each
    pass looks at every descent ``t[i] > t[i+1]`` among the kept rows and drops the row that breaks
    the order locally: ``i`` (a spike) when ``t[i-1] <= t[i+1]``, else ``i+1`` (a dip). Vectorized;
    after a bounded number of passes anything still out of order is dropped wholesale (rows above a
    later row). Sorted input costs one comparison per row.
    """
    keep = np.ones(len(t), dtype=bool)
    if day is not None:
        keep &= (t >= day[0] - DAY_MARGIN_NS) & (t < day[1])
    for _ in range(_MAX_REPAIR_PASSES):
        idx = np.flatnonzero(keep)
        v = t[idx]
        d = np.flatnonzero(v[1:] < v[:-1])
        if not len(d):
            return keep
        prev = np.where(d > 0, v[np.maximum(d - 1, 0)], np.iinfo(np.int64).min)
        spike = prev <= v[d + 1]
        drop = np.where(spike, idx[d], idx[d + 1])
        keep[drop] = False
    idx = np.flatnonzero(keep)
    v = t[idx]
    suffix_min = np.minimum.accumulate(v[::-1])[::-1]
    keep[idx[v > suffix_min]] = False
    return keep


def open_recording(path: str | Path) -> Recording:
    """Shorthand for :meth:`Recording.open`."""
    return Recording.open(path)


def session_date_of(path: str | Path) -> dt.date | None:
    """The session date in a recording's metadata (reads only the schema for Parquet)."""
    p = Path(path)
    if fmt.sniff_format(p) == "parquet":
        try:
            schema = pq.read_schema(p)
        except (pa.ArrowInvalid, OSError) as exc:
            raise RecordingError(p, f"corrupt or truncated Parquet file ({exc})") from None
        return RecordingMetadata.from_arrow(schema.metadata, p).session_date
    return Recording.open(p).metadata.session_date


def _kind_mask(kinds: Iterable[int]) -> np.ndarray:
    """Lookup table: ``_kind_mask(kinds)[kind_column]`` is True where the row's kind is listed."""
    lut = np.zeros(256, dtype=bool)
    lut[list(kinds)] = True
    return lut


__all__ = ["Recording", "RecordingError", "RecordingMetadata", "UnderlyingData", "open_recording",
           "session_date_of"]
