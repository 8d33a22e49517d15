"""Read recordings: finalized Parquet (format 2 or 1) or an in-progress / crashed IPC journal.

Format 2 (:mod:`zdte_tui.store.layout`) is read as the replay advances: :meth:`Recording.open`
reads the footer, checks every page's crc32 without decompressing, and decodes only the small
row groups (names, definitions, statuses, batch bounds); spot, quote and trade rows stay on
disk until :meth:`Recording.events` reaches their 30-minute block. A row group is decoded into
zero-copy numpy views of its Arrow buffers (only the kind's own columns) and a batch is a
slice of those views; at most :data:`RESIDENT_GROUPS` row groups per (underlying, kind) stay
decoded (more only while one batch spans more), so memory does not grow with the day.

Format 1 and the journal are one long table in write order: they are read whole, grouped by
(underlying, kind) with one stable sort and served from memory. pandas is never imported.
"""

from __future__ import annotations

import datetime as dt
import heapq
import zlib
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from zdte_tui.market.events import (
    NS_PER_SECOND,
    ChainDefinition,
    Event,
    EventBatch,
    FeedStatus,
    OptionQuotes,
    OptionTrades,
    SpotTicks,
    VolContext,
)
from zdte_tui.store import footer, layout
from zdte_tui.store import format as fmt
from zdte_tui.store.format import RecordingError, RecordingMetadata
from zdte_tui.store.layout import DAY_MARGIN_NS, kind_mask, plausible_times, session_day_ns

DEFAULT_SLICE_SECONDS = 30
RESIDENT_GROUPS = 2  # decoded row groups kept per (underlying, kind) between batches
RELEASE_ROWS = 1 << 16  # dropping at least this many decoded rows at once hands freed memory back to the OS
MAX_SLICES = 5_000_000  # _slice_bounds refuses to build more slices than this
_PAYLOAD_KINDS = (fmt.KIND_DEFINITION, fmt.KIND_STATUS, fmt.KIND_SYMBOL, fmt.KIND_NOTE, fmt.KIND_TRUTH,
                  fmt.KIND_VOL)
_PRIO_IN_FORCE, _PRIO_BATCH, _PRIO_AFTER_BATCHES = 0, 1, 2
_KIND_LABEL = fmt.KIND_NAMES
# What damaged bytes can raise from pyarrow, JSON/UTF-8 decoding and numpy while a file is opened.
_DAMAGE_ERRORS = (pa.ArrowException, UnicodeDecodeError, ValueError, KeyError, IndexError, TypeError,
                  OverflowError, MemoryError)
_EMPTY_I64 = np.empty(0, dtype=np.int64)


@dataclass(frozen=True)
class UnderlyingData:
    """All recorded rows of one underlying, each group sorted by time (as written)."""

    underlying: str
    spot: SpotTicks
    quotes: OptionQuotes
    trades: OptionTrades
    batch_start_ns: np.ndarray  # int64, one per recorded EventBatch
    batch_end_ns: np.ndarray  # int64


# --------------------------------------------------------------------------- files
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


def _open_parquet(path: Path, metadata: pq.FileMetaData) -> pq.ParquetFile:
    try:
        # pre_buffer=False: read a column chunk when it is decoded, not a whole row group ahead (-30 MB peak)
        return pq.ParquetFile(path, metadata=metadata, page_checksum_verification=True, pre_buffer=False)
    except (pa.ArrowInvalid, pa.ArrowIOError, OSError) as exc:
        raise RecordingError(path, f"corrupt or truncated Parquet file ({exc})") from None


def _lost_summary(lost: list[str], total: int) -> str:
    return (f"{len(lost)} of {total} row groups are damaged or missing and were skipped: "
            + "; ".join(lost[:5]) + (" ..." if len(lost) > 5 else ""))


def _read_parquet_v1(path: Path, metadata: pq.FileMetaData, warnings: list[str]) -> pa.Table:
    """Format 1: every row group, page checksums verified; a row group that fails (bad checksum, cut
    off by truncation) is reported and skipped, every intact one is kept."""
    pf = _open_parquet(path, metadata)
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
        warnings.append(_lost_summary(lost, metadata.num_row_groups))
    schema = metadata.schema.to_arrow_schema()
    try:
        table = pa.concat_tables(groups) if groups else schema.empty_table()
    except pa.ArrowInvalid as exc:
        raise RecordingError(path, f"row groups do not share one schema ({exc})") from None
    return table.replace_schema_metadata(schema.metadata)


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


# --------------------------------------------------------------------------- streams
class _Stream:
    """The time-sorted rows of one (underlying, kind): ``window(lo, hi)`` gives the columns of the
    rows with ``lo < ts <= hi``."""

    columns: tuple[str, ...]
    first_ts: int | None
    last_ts: int | None

    def window(self, lo: int, hi: int) -> tuple[np.ndarray, ...]:
        raise NotImplementedError

    def pieces(self, lo: int, hi: int) -> list[tuple[np.ndarray, ...]]:
        """The rows of ``window(lo, hi)`` as views, one piece per row group (in time order)."""
        return [self.window(lo, hi)]

    def everything(self) -> tuple[np.ndarray, ...]:
        return self.window(np.iinfo(np.int64).min, np.iinfo(np.int64).max)


class _MemoryStream(_Stream):
    """Whole-session arrays (format 1 and the journal, which are read whole)."""

    def __init__(self, kind: int, arrays: tuple[np.ndarray, ...]) -> None:
        self.columns = fmt.KIND_COLUMNS[kind]
        self.arrays = arrays
        ts = arrays[0]
        self.first_ts = int(ts[0]) if len(ts) else None
        self.last_ts = int(ts[-1]) if len(ts) else None

    def window(self, lo: int, hi: int) -> tuple[np.ndarray, ...]:
        a, b = np.searchsorted(self.arrays[0], (lo, hi), side="right")
        return tuple(arr[a:b] for arr in self.arrays)


class _GroupReader:
    """Decodes format-2 row groups on demand and keeps count of what is resident."""

    def __init__(self, recording: Recording, pf: pq.ParquetFile) -> None:
        self.recording = recording
        self.pf = pf
        self.resident_rows = 0
        self.peak_resident_rows = 0
        self.groups_decoded = 0

    def read(self, index: int, kind: int, columns: tuple[str, ...] | None = None) -> pa.Table | None:
        """Row group ``index`` with the kind's columns (or ``columns``), or None (reported) when it
        fails to decode."""
        try:
            table = self.pf.read_row_group(index, columns=list(columns or fmt.KIND_COLUMNS[kind]), use_threads=False)
        except (pa.ArrowException, OSError, ValueError) as exc:
            self.recording._lose_group(index, str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__)
            return None
        if columns is None or columns != fmt.KIND_COLUMNS[kind][:1]:  # the ts column alone comes first
            self.groups_decoded += 1  # (lazy_pieces), the rest with it when a batch needs the group
        return table


class _Piece:
    """Rows ``start .. start + len(ts)`` of one decoded unit (a format-2 row group of ``stream``, or
    in-memory ``arrays``): ``ts`` is known, the other columns are fetched by :meth:`rows`."""

    __slots__ = ("ts", "stream", "pos", "start", "arrays")

    def __init__(self, ts: np.ndarray, stream: _LazyStream | None, pos: int, start: int,
                 arrays: tuple[np.ndarray, ...] | None = None) -> None:
        self.ts, self.stream, self.pos, self.start, self.arrays = ts, stream, pos, start, arrays

    def rows(self, a: int, b: int, dtypes: list[np.dtype]) -> tuple[np.ndarray, ...]:
        """Columns of the piece's rows ``a:b``; decodes the row group when needed (and drops the
        ones before it: a batch from this group means the replay is past them)."""
        if b <= a:
            return tuple(np.empty(0, dtype=d) for d in dtypes)
        if self.arrays is not None:
            return tuple(arr[a:b] for arr in self.arrays)
        assert self.stream is not None
        self.stream.passed(self.pos)
        full = self.stream._decoded(self.pos)
        lo, hi = self.start + a, self.start + b
        return tuple(arr[lo:hi] for arr in full)


def release_freed_memory() -> None:
    """Hand memory freed by dropped row groups back to the OS: Arrow's pool keeps freed pages for
    reuse and glibc keeps freed heap, so without this a replay's RSS stays at its high-water mark
    (about -45 MB at the close of a real-scale SPX day, docs/recording.md "Memory")."""
    pa.default_memory_pool().release_unused()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


_TRIM: list[Any] = []


def _malloc_trim() -> Any:
    """glibc's ``malloc_trim`` (None elsewhere: musl, macOS)."""
    if not _TRIM:
        try:
            import ctypes

            _TRIM.append(ctypes.CDLL(None).malloc_trim)
        except (OSError, AttributeError):
            _TRIM.append(None)
    return _TRIM[0]


class _LazyStream(_Stream):
    """Format-2 row groups of one (underlying, kind), decoded when a window reaches them."""

    def __init__(self, reader: _GroupReader, kind: int, groups: list[tuple[int, int, int, int]]) -> None:
        self.reader = reader
        self.kind = kind
        self.columns = fmt.KIND_COLUMNS[kind]
        self.groups = groups  # (row group index, rows, first_ts, last_ts), in time order
        self.firsts = np.array([g[2] for g in groups], dtype=np.int64)
        self.lasts = np.array([g[3] for g in groups], dtype=np.int64)
        self.first_ts = int(self.firsts[0]) if groups else None
        self.last_ts = int(self.lasts[-1]) if groups else None
        self.dtypes = [np.dtype(fmt.COLUMN_DTYPES[c]) for c in self.columns]
        self._cache: OrderedDict[int, tuple[np.ndarray, ...]] = OrderedDict()
        self._times: dict[int, np.ndarray] = {}  # ts columns decoded ahead of their groups (lazy_pieces)

    def _decode(self, pos: int, columns: tuple[str, ...]) -> tuple[np.ndarray, ...] | None:
        """``columns`` of row group ``pos`` as zero-copy views, or None (reported) when it is unusable.
        Timestamps (``columns[0] == "ts_ns"``) are checked against the row-group index."""
        index, n, first, last = self.groups[pos]
        table = self.reader.read(index, self.kind, columns)
        if table is None:
            return None
        try:
            if table.num_rows != n:
                raise ValueError(f"{table.num_rows} rows instead of {n}")
            arrays = tuple(fmt.column_numpy(table.column(c)) for c in columns)  # views, no copy
            if columns[0] == "ts_ns":
                ts = arrays[0]
                if n and (ts[0] != first or ts[-1] != last or bool(np.any(ts[1:] < ts[:-1]))):
                    raise ValueError("timestamps disagree with the row-group index")
        except (ValueError, pa.ArrowException) as exc:
            self.reader.recording._lose_group(index, str(exc)[:120])
            return None
        return arrays

    def _decoded(self, pos: int) -> tuple[np.ndarray, ...]:
        cached = self._cache.get(pos)
        if cached is not None:
            self._cache.move_to_end(pos)
            return cached
        ts = self._times.pop(pos, None)  # the timestamps, decoded alone to plan a read window
        if ts is not None:
            rest = self._decode(pos, self.columns[1:]) if len(ts) else ()
            arrays = (ts, *rest) if rest is not None else None
        else:
            arrays = self._decode(pos, self.columns)
        if arrays is None:
            arrays = tuple(np.empty(0, dtype=d) for d in self.dtypes)
        self._cache[pos] = arrays
        self.reader.resident_rows += len(arrays[0])
        self.reader.peak_resident_rows = max(self.reader.peak_resident_rows, self.reader.resident_rows)
        return arrays

    def times(self, pos: int) -> np.ndarray:
        """The timestamps of row group ``pos``: of the decoded group when it is resident, else the
        ts column decoded alone (kept until the group is decoded or passed)."""
        cached = self._cache.get(pos)
        if cached is not None:
            return cached[0]
        ts = self._times.get(pos)
        if ts is None:
            decoded = self._decode(pos, self.columns[:1])
            ts = decoded[0] if decoded is not None else np.empty(0, dtype=np.int64)
            self._times[pos] = ts
        return ts

    def lazy_pieces(self, lo: int, hi: int) -> list[_Piece]:
        """The rows in ``(lo, hi]`` as :class:`_Piece` s, one per row group, from timestamps alone:
        a group's other columns are decoded when a batch first takes rows from it."""
        first = int(np.searchsorted(self.lasts, lo, side="right"))
        stop = int(np.searchsorted(self.firsts, hi, side="right"))
        self.passed(first)
        pieces = []
        for pos in range(first, max(first, stop)):
            ts = self.times(pos)
            a, b = np.searchsorted(ts, (lo, hi), side="right")
            if b > a:
                pieces.append(_Piece(ts[a:b], self, pos, int(a)))
        return pieces

    def passed(self, pos: int) -> None:
        """The replay has moved to row group ``pos``: drop every decoded group (and timestamps) before it."""
        freed = 0
        for p in [p for p in self._cache if p < pos]:
            freed += len(self._cache[p][0])
            self._evict(p)
        for p in [p for p in self._times if p < pos]:
            del self._times[p]
        while len(self._cache) > RESIDENT_GROUPS:  # after a backward seek: groups ahead, least recently used first
            p = next(iter(self._cache))
            freed += len(self._cache[p][0])
            self._evict(p)
        if freed >= RELEASE_ROWS:
            release_freed_memory()

    def _evict(self, pos: int) -> None:
        arrays = self._cache.pop(pos)
        self.reader.resident_rows -= len(arrays[0])

    def release(self) -> None:
        """Drop every decoded row group (after a whole-session read)."""
        for pos in list(self._cache):
            self._evict(pos)
        self._times.clear()

    def window(self, lo: int, hi: int) -> tuple[np.ndarray, ...]:
        pieces = self.pieces(lo, hi)
        if not pieces:
            return tuple(np.empty(0, dtype=d) for d in self.dtypes)
        if len(pieces) == 1:
            return pieces[0]
        return tuple(np.concatenate(parts) for parts in zip(*pieces))  # rows spanning row groups: a copy

    def pieces(self, lo: int, hi: int) -> list[tuple[np.ndarray, ...]]:
        first = int(np.searchsorted(self.lasts, lo, side="right"))  # groups ending after lo
        stop = int(np.searchsorted(self.firsts, hi, side="right"))  # groups starting at or before hi
        needed = range(first, max(first, stop))
        self.passed(first)  # the replay has moved past the groups before ``first``
        pieces = []
        for pos in needed:
            arrays = self._decoded(pos)
            a, b = np.searchsorted(arrays[0], (lo, hi), side="right")
            if b > a:
                pieces.append(tuple(arr[a:b] for arr in arrays))
        while len(self._cache) > max(RESIDENT_GROUPS, len(needed)):
            self._evict(next(iter(self._cache)))
        return pieces


_KIND_DTYPES = {k: [np.dtype(fmt.COLUMN_DTYPES[c]) for c in fmt.KIND_COLUMNS[k]] for k in layout.EVENT_KINDS}


def _empty_piece(kind: int) -> _Piece:
    arrays = tuple(np.empty(0, dtype=d) for d in _KIND_DTYPES[kind])
    return _Piece(arrays[0], None, 0, 0, arrays)


def _columns_of(kind: int, arrays: tuple[np.ndarray, ...]) -> Any:
    if kind == fmt.KIND_SPOT:
        return SpotTicks(*arrays)
    if kind == fmt.KIND_QUOTE:
        return OptionQuotes(*arrays)
    return OptionTrades(*arrays)


# --------------------------------------------------------------------------- the recording
class Recording:
    """An opened recording: metadata, definitions, per-underlying streams, truth.

    ``warnings`` lists what was wrong but recoverable (torn IPC tail, not finalized, recorded
    SessionResets, damaged row groups; a format-2 row group that only fails when the replay
    decodes it is added then). Use :meth:`open`; errors raise :class:`RecordingError`.
    """

    def __init__(self, path: Path, file_format: str, metadata: RecordingMetadata, warnings: list[str]) -> None:
        self.path = path
        self.file_format = file_format
        self.metadata = metadata
        self.warnings = list(warnings)
        self.n_rows = 0
        self.skipped_rows = 0
        self.notes: list[str] = []
        self.definitions: dict[str, ChainDefinition] = {}
        self._names: dict[int, str] = {}
        self._definition_rows: list[tuple[int, int, ChainDefinition]] = []  # (ts, order, definition)
        self._statuses: list[FeedStatus] = []
        self._vol_contexts: list[VolContext] = []
        self._truth: dict[str, dict[str, np.ndarray]] = {}
        self._truth_groups: dict[str, list[int]] = {}
        self._streams: dict[str, dict[int, _Stream]] = {}
        self._clocks: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # (batch starts, batch ends), in order
        self._groups: _GroupReader | None = None
        self._lost: list[str] = []
        self._underlyings: dict[str, UnderlyingData] | None = None

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
        if file_format == "parquet":
            pmeta, warnings = _parquet_metadata(p)
            schema = pmeta.schema.to_arrow_schema()
            metadata = RecordingMetadata.from_arrow(schema.metadata, p)
            if metadata.format_version >= 2:
                rec = cls(p, file_format, metadata, warnings)
                rec._open_v2(pmeta, schema)
                return rec
            table = _read_parquet_v1(p, pmeta, warnings)
        else:
            table, warnings = _read_ipc_stream(p)
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
        rec = cls(p, file_format, metadata, warnings)
        rec._decode_long_table(table.select([f.name for f in fmt.SCHEMA]))
        return rec

    # ------------------------------------------------------------------ format 2
    def _open_v2(self, pmeta: pq.FileMetaData, schema: pa.Schema) -> None:
        for f in fmt.SCHEMA_V2:
            if schema.get_field_index(f.name) < 0 or schema.field(f.name).type != f.type:
                raise RecordingError(self.path, f"column {f.name!r} is missing or of another type (damaged file?)")
        index = self.metadata.layout.get("row_groups")
        if (not isinstance(index, list) or len(index) != pmeta.num_row_groups
                or not all(isinstance(e, list) and len(e) == 5 and all(isinstance(x, int) for x in e) for e in index)
                or any(e[2] != pmeta.row_group(i).num_rows or e[1] not in fmt.KIND_COLUMNS or e[3] > e[4]
                       for i, e in enumerate(index))):
            raise RecordingError(self.path, "the row-group index does not match the file (damaged file?)")
        self._index = index
        for msg in self.metadata.layout.get("skipped") or []:  # type: ignore[attr-defined]
            self.warnings.append(str(msg))
        self.skipped_rows = int(self.metadata.layout.get("skipped_rows") or 0)  # type: ignore[call-overload]
        resets = int(self.metadata.layout.get("resets") or 0)  # type: ignore[call-overload]
        if resets:
            self.warnings.append(layout.reset_warning(resets))
        damaged = self._check_pages(pmeta)
        pf = _open_parquet(self.path, pmeta)
        self._groups = _GroupReader(self, pf)
        self.n_rows = sum(e[2] for i, e in enumerate(index) if i not in damaged)

        by_stream: dict[tuple[int, int], list[tuple[int, int, int, int]]] = {}
        opening: list[tuple[int, int, int, pa.Table]] = []  # (kind, sym, row group, table)
        for i, (sym, kind, n, first, last) in enumerate(index):
            if i in damaged or not n:
                continue
            if kind in layout.EVENT_KINDS:
                by_stream.setdefault((sym, kind), []).append((i, n, first, last))
            elif kind == fmt.KIND_TRUTH:
                self._truth_groups.setdefault(str(sym), []).append(i)
            else:
                table = self._groups.read(i, kind)
                if table is not None and table.num_rows == n:
                    opening.append((kind, sym, i, table))
                elif table is not None:
                    self._lose_group(i, f"{table.num_rows} rows instead of {n}")
        try:
            self._decode_opening(opening)
        except (ValueError, KeyError, UnicodeDecodeError) as exc:
            raise RecordingError(self.path, f"corrupt payload ({exc!r})") from None
        self._truth_groups = {self._names.get(int(s), s): g for s, g in self._truth_groups.items()}
        for (sym, kind), groups in sorted(by_stream.items()):
            name = self._name(sym)
            lasts = [g[3] for g in groups]
            if any(b[2] < a[3] for a, b in zip(groups, groups[1:])) or lasts != sorted(lasts):
                raise RecordingError(self.path, f"{name}: {_KIND_LABEL[kind]} row groups out of time order "
                                                "(damaged file?)")
            self._streams.setdefault(name, {})[kind] = _LazyStream(self._groups, kind, groups)
        for name in list(self._clocks):
            self._streams.setdefault(name, {})
        self._finish()

    def _check_pages(self, pmeta: pq.FileMetaData) -> set[int]:
        """Row groups cut off by truncation or holding a page that fails its crc32 (reported).

        Every column is checked, the null ones too (never read, but damage anywhere is reported)."""
        damaged: set[int] = set()
        try:
            size = self.path.stat().st_size
            with self.path.open("rb") as f:
                for i in range(pmeta.num_row_groups):
                    rg = pmeta.row_group(i)
                    chunks = []
                    for c in range(rg.num_columns):
                        col = rg.column(c)
                        start = col.dictionary_page_offset if col.has_dictionary_page else col.data_page_offset
                        if start is None or start < 0 or start + col.total_compressed_size > size:
                            self._lose_group(i, "cut off (the file is truncated)")
                            damaged.add(i)
                            break
                        chunks.append((col, start))
                    for col, start in chunks if i not in damaged else []:
                        f.seek(start)
                        problem = footer.page_problem(f.read(col.total_compressed_size))
                        if problem:
                            self._lose_group(i, f"column {col.path_in_schema}: {problem}")
                            damaged.add(i)
                            break
        except OSError as exc:
            raise RecordingError(self.path, f"cannot read ({exc.strerror or exc})") from None
        return damaged

    def _lose_group(self, index: int, problem: str) -> None:
        """Report a format-2 row group that cannot be used (its rows are skipped)."""
        entry = self._index[index]
        label = fmt.KIND_NAMES.get(entry[1], "?")
        self._lost.append(f"row group {index} ({entry[2]:,} {label} rows of underlying #{entry[0]}): {problem}")
        summary = _lost_summary(self._lost, len(self._index))
        self.warnings = [w for w in self.warnings if "row groups are damaged or missing" not in w] + [summary]
        if self._groups is not None:  # found while replaying: its rows were counted as readable at open
            self.n_rows -= entry[2]
            self.skipped_rows += entry[2]

    def _decode_opening(self, opening: list[tuple[int, int, int, pa.Table]]) -> None:
        defs: list[tuple[int, int, int, bytes]] = []
        statuses: list[tuple[int, int, int, bytes]] = []
        vols: list[tuple[int, int, bytes]] = []
        clocks: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}
        for kind, sym, _i, table in opening:
            names = fmt.KIND_COLUMNS[kind]
            payload = fmt.binary_pylist(table.column("payload")) if "payload" in names else []
            cols = {c: fmt.column_numpy(table.column(c)) for c in names if c != "payload"}
            if kind == fmt.KIND_SYMBOL:
                for p in payload:
                    self._names[sym] = p.decode()
            elif kind == fmt.KIND_NOTE:
                self.notes.extend(p.decode() for p in payload)
            elif kind == fmt.KIND_DEFINITION:
                defs.extend((int(t), sym, len(defs) + j, p)
                            for j, (t, p) in enumerate(zip(cols["ts_ns"].tolist(), payload)))
            elif kind == fmt.KIND_STATUS:
                statuses.extend(zip(cols["ts_ns"].tolist(), [sym] * table.num_rows, cols["aux"].tolist(), payload))
            elif kind == fmt.KIND_VOL:
                vols.extend(zip(cols["ts_ns"].tolist(), [sym] * table.num_rows, payload))
            elif kind == fmt.KIND_CLOCK:
                clocks.setdefault(sym, []).append((cols["aux"].astype(np.int64), cols["ts_ns"].astype(np.int64)))
        defs.sort(key=lambda d: (d[0], d[1], d[2]))
        self._definition_rows = [(t, order, fmt.decode_definition(p)) for order, (t, _s, _o, p) in enumerate(defs)]
        statuses.sort(key=lambda s: s[0])
        self._statuses = [fmt.decode_status(p, t, self._name(s) if s >= 0 else None, c) for t, s, c, p in statuses]
        vols.sort(key=lambda v: v[0])
        self._vol_contexts = [fmt.decode_vol_context(p, t, self._name(s)) for t, s, p in vols]
        for sym, parts in clocks.items():
            self._clocks[self._name(sym)] = (np.concatenate([a for a, _ in parts]),
                                             np.concatenate([b for _, b in parts]))

    def _name(self, code: int) -> str:
        found = self._names.get(code)
        if found is None:
            raise RecordingError(self.path, f"rows reference underlying code {code} with no SYMBOL row")
        return found

    def _finish(self) -> None:
        self.definitions = {d.underlying: d for _, _, d in self._definition_rows}
        for d in self.definitions:
            self._streams.setdefault(d, {})
        self._sym_order = {name: i for i, name in enumerate(sorted(
            self._streams, key=lambda n: next((c for c, m in self._names.items() if m == n), 1 << 30)))}

    # ------------------------------------------------------------------ format 1 and the journal
    def _decode_long_table(self, table: pa.Table) -> None:
        self.n_rows = table.num_rows
        if any(table.column(name).num_chunks > 1 for name in fmt.COLUMN_DTYPES):
            table = table.combine_chunks()
        col = {name: fmt.column_numpy(table.column(name)) for name in fmt.COLUMN_DTYPES}
        kind, sym, ts = col["kind"], col["sym"], col["ts_ns"]
        keep, n_resets = layout.rows_kept_after_resets(kind)
        if n_resets:
            self.warnings.append(layout.reset_warning(n_resets))
        payload_rows = np.flatnonzero(kind_mask(_PAYLOAD_KINDS)[kind] & keep)
        payload_column = table.column("payload").combine_chunks()
        payloads = (fmt.binary_pylist(payload_column.take(layout.numpy_array(payload_rows.astype(np.int64))))
                    if len(payload_rows) else [])
        def_clock = dict(zip(np.flatnonzero(kind == fmt.KIND_DEFINITION).tolist(),
                             layout.definition_clock(kind, sym, ts).tolist()))

        names: dict[int, str] = {}
        defs: list[tuple[int, int, ChainDefinition]] = []
        statuses: list[tuple[int, int, int, bytes]] = []
        vols: list[tuple[int, int, bytes]] = []
        for row, payload in zip(payload_rows.tolist(), payloads):
            if int(kind[row]) == fmt.KIND_SYMBOL:
                names[int(sym[row])] = payload.decode()
        self._names = names
        try:
            for row, payload in zip(payload_rows.tolist(), payloads):
                k = int(kind[row])
                if k == fmt.KIND_NOTE:
                    self.notes.append(payload.decode())
                elif k == fmt.KIND_DEFINITION:
                    defs.append((def_clock[row], row, fmt.decode_definition(payload)))
                elif k == fmt.KIND_STATUS:
                    statuses.append((int(ts[row]), int(sym[row]), int(col["aux"][row]), payload))
                elif k == fmt.KIND_VOL:
                    vols.append((int(ts[row]), int(sym[row]), payload))
                elif k == fmt.KIND_TRUTH:
                    name, values = fmt.decode_truth_array(payload)
                    self._truth.setdefault(names.get(int(sym[row]), str(int(sym[row]))), {})[name] = values
        except (ValueError, KeyError, UnicodeDecodeError) as exc:
            raise RecordingError(self.path, f"corrupt payload row {row:,} ({exc!r})") from None
        self._definition_rows = sorted(defs, key=lambda d: (d[0], d[1]))
        self._statuses = [fmt.decode_status(p, t, names.get(s) if s >= 0 else None, c) for t, s, c, p in statuses]
        self._vol_contexts = [fmt.decode_vol_context(p, t, names.get(s, str(s))) for t, s, p in vols]

        group_kinds = (fmt.KIND_SPOT, fmt.KIND_QUOTE, fmt.KIND_TRADE, fmt.KIND_CLOCK)
        rows = np.flatnonzero(keep & kind_mask(group_kinds)[kind])
        # One (sym, kind) key per row; a group's rows are one vectorized comparison each (cheaper in
        # memory than sorting every row when there are a few underlyings).
        key_dtype = np.uint16 if (int(sym.max(initial=0)) + 2) * fmt.N_KINDS <= np.iinfo(np.uint16).max else np.int32
        key = np.full(len(kind), np.iinfo(key_dtype).max, dtype=key_dtype)
        key[rows] = (sym[rows].astype(key_dtype) + 1) * fmt.N_KINDS + kind[rows].astype(key_dtype)
        del rows
        day = session_day_ns(self.metadata.session_date)
        grouped = np.unique(key[key != np.iinfo(key_dtype).max]) // fmt.N_KINDS - 1
        codes = sorted(set(grouped.tolist()) | {c for c, n in names.items() if n in
                                                {d.underlying for _, _, d in defs}})
        for code in codes:
            if code < 0:
                continue
            name = self._name(code)
            streams = self._streams.setdefault(name, {})
            for k in group_kinds:
                idx = np.flatnonzero(key == (code + 1) * fmt.N_KINDS + k)
                if k == fmt.KIND_CLOCK:
                    start, end = col["aux"][idx], ts[idx]
                    ok = layout.plausible_batches(start, end, day)
                    if len(ok) != len(idx):
                        self._skip(len(idx) - len(ok), f"{name}: {len(idx) - len(ok):,} batch bound row(s) out of "
                                                       "range or order skipped (damaged recording?)")
                    self._clocks[name] = (start[ok].astype(np.int64), end[ok].astype(np.int64))
                    continue
                ok_mask = plausible_times(ts[idx], day)
                if not ok_mask.all():
                    bad = int((~ok_mask).sum())
                    self._skip(bad, f"{name}: {bad:,} {_KIND_LABEL[k]} row(s) with a timestamp outside the session "
                                    "day or out of time order skipped (damaged recording?)")
                    idx = idx[ok_mask]
                streams[k] = _MemoryStream(k, tuple(col[c][idx] for c in fmt.KIND_COLUMNS[k]))
        self._finish()

    def _skip(self, n: int, message: str) -> None:
        self.skipped_rows += n
        self.warnings.append(message)

    # ------------------------------------------------------------------ queries
    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(sorted(self._streams, key=self._sym_order.__getitem__))

    @property
    def resident_rows(self) -> int:
        """Format 2: decoded event rows held right now (0 for files read whole)."""
        return self._groups.resident_rows if self._groups is not None else 0

    @property
    def peak_resident_rows(self) -> int:
        """Format 2: the most decoded event rows held at once since the file was opened."""
        return self._groups.peak_resident_rows if self._groups is not None else 0

    @property
    def groups_decoded(self) -> int:
        """Format 2: how many row groups have been decoded so far."""
        return self._groups.groups_decoded if self._groups is not None else 0

    @property
    def underlyings(self) -> dict[str, UnderlyingData]:
        """Whole-session arrays per underlying (decodes every row: for tools, not for replay)."""
        if self._underlyings is None:
            out = {}
            for name in self.symbols:
                streams = self._streams[name]
                parts = [_columns_of(k, streams[k].everything() if k in streams else
                                     tuple(np.empty(0, dtype=fmt.COLUMN_DTYPES[c]) for c in fmt.KIND_COLUMNS[k]))
                         for k in layout.EVENT_KINDS]
                start, end = self._clocks.get(name, (_EMPTY_I64, _EMPTY_I64))
                out[name] = UnderlyingData(name, spot=parts[0], quotes=parts[1], trades=parts[2],
                                           batch_start_ns=start, batch_end_ns=end)
                for stream in streams.values():
                    if isinstance(stream, _LazyStream):
                        stream.release()
            self._underlyings = out
        return self._underlyings

    def _span(self, names: Iterable[str]) -> tuple[int, int] | None:
        """(exclusive low, inclusive high) of everything recorded for ``names``."""
        lows, highs = [], []
        for name in names:
            for s in self._streams.get(name, {}).values():
                if s.first_ts is not None and s.last_ts is not None:
                    lows.append(s.first_ts - 1)
                    highs.append(s.last_ts)
            start, end = self._clocks.get(name, (_EMPTY_I64, _EMPTY_I64))
            if len(end):
                lows.append(int(start.min()))
                highs.append(int(end.max()))
        return (min(lows), max(highs)) if lows else None

    @property
    def time_range(self) -> tuple[int, int] | None:
        """(first_ns, last_ns) over events and recorded batch bounds; None if nothing recorded."""
        firsts, lasts = [], []
        for name in self._streams:
            for s in self._streams[name].values():
                if s.first_ts is not None and s.last_ts is not None:
                    firsts.append(s.first_ts)
                    lasts.append(s.last_ts)
            start, end = self._clocks.get(name, (_EMPTY_I64, _EMPTY_I64))
            if len(end):
                firsts.append(int(start.min()))
                lasts.append(int(end.max()))
        return (min(firsts), max(lasts)) if firsts else None

    def truth(self, underlying: str) -> dict[str, np.ndarray] | None:
        """Simulator truth arrays stored with :meth:`RecordingWriter.write_truth` (never replayed)."""
        if underlying not in self._truth and underlying in self._truth_groups and self._groups is not None:
            arrays: dict[str, np.ndarray] = {}
            for i in self._truth_groups[underlying]:
                table = self._groups.read(i, fmt.KIND_TRUTH)
                if table is None:
                    continue
                try:
                    for payload in fmt.binary_pylist(table.column("payload")):
                        name, values = fmt.decode_truth_array(payload)
                        arrays[name] = values
                except (ValueError, KeyError) as exc:
                    raise RecordingError(self.path, f"corrupt truth payload ({exc!r})") from None
            self._truth[underlying] = arrays
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
        Definitions come before the first batch that may use them (per-underlying writer clock
        order); FeedStatus events after the batches ending at or before their ``ts_ns``. With
        ``start_ns`` set, the definitions in force at ``start_ns`` come first unless
        ``definitions_in_force=False``. Rows are decoded as the iteration reaches them.
        """
        lo_ns = np.iinfo(np.int64).min if start_ns is None else int(start_ns)
        hi_ns = np.iinfo(np.int64).max if end_ns is None else int(end_ns)
        wanted = set(self._streams) if symbols is None else set(symbols)
        width_ns = None if slice_seconds is None else int(round(slice_seconds * NS_PER_SECOND))
        if width_ns is not None and width_ns <= 0:
            raise ValueError("slice_seconds must be positive (or None for the recorded batches)")
        points: list[tuple[int, int, int, Event]] = []  # (time, priority, seq, event), few
        if start_ns is not None and definitions_in_force:
            for d in self.definitions_at(lo_ns).values():
                if d.underlying in wanted:
                    points.append((lo_ns, _PRIO_IN_FORCE, len(points), d))
            in_force: dict[str, VolContext] = {}  # the VolContext in force at start_ns, per underlying
            for v in self._vol_contexts:
                if v.underlying in wanted and v.ts_ns <= lo_ns:
                    in_force[v.underlying] = v
            for v in in_force.values():
                points.append((lo_ns, _PRIO_IN_FORCE, len(points), v))
        for t, _row, d in self._definition_rows:
            if d.underlying in wanted and (start_ns is None or t > lo_ns) and t <= hi_ns:
                points.append((t, _PRIO_AFTER_BATCHES, len(points), d))
        for s in self._statuses:
            if (s.underlying is None or s.underlying in wanted) and lo_ns < s.ts_ns <= hi_ns:
                points.append((s.ts_ns, _PRIO_AFTER_BATCHES, len(points), s))
        for v in self._vol_contexts:
            if v.underlying in wanted and lo_ns < v.ts_ns <= hi_ns:
                points.append((v.ts_ns, _PRIO_AFTER_BATCHES, len(points), v))
        points.sort(key=lambda it: it[:3])
        names = sorted(wanted & set(self._streams), key=self._sym_order.__getitem__)
        batches = self._batches(names, lo_ns, hi_ns, width_ns)
        for item in heapq.merge(points, batches, key=lambda it: it[:3]):
            yield item[3]

    def _batches(self, names: list[str], lo_ns: int, hi_ns: int,
                 width_ns: int | None) -> Iterator[tuple[int, int, int, EventBatch]]:
        """Batches in (time, underlying order), produced one read window at a time.

        Windows are 30-minute blocks (a multiple of the slice width), also cut where a format-2
        row group starts, so a window touches at most two row groups of each stream unless one
        slice is wider than a row group. Every window edge is a multiple of the slice width, so no
        slice is cut by a window."""
        span = self._span(names)
        if span is None:
            return
        lo, hi = max(span[0], lo_ns), min(span[1], hi_ns)
        if hi <= lo:
            return
        window = layout.BLOCK_NS if width_ns is None else width_ns * max(1, layout.BLOCK_NS // width_ns)
        k0, k1 = lo // window, (hi - 1) // window
        if k1 - k0 + 1 > MAX_SLICES:
            raise ValueError(f"{k1 - k0 + 1:,} read windows would be needed (more than {MAX_SLICES:,})")
        recorded = {}
        if width_ns is None:  # recorded batches, ordered by their end (stable: recorded order on ties)
            for name in names:
                start, end = self._clocks.get(name, (_EMPTY_I64, _EMPTY_I64))
                b_lo, b_hi = np.maximum(start, lo_ns), np.minimum(end, hi_ns)
                ok = b_hi > b_lo
                order = np.argsort(b_hi[ok], kind="stable")
                recorded[name] = (b_lo[ok][order], b_hi[ok][order])
        edges = np.arange(k0, k1 + 2, dtype=np.int64) * window
        if width_ns is not None:  # also start a window where a row group starts: one window then
            starts = [(s.firsts - 1) // width_ns * width_ns for name in names  # needs at most two per stream
                      for s in self._streams[name].values() if isinstance(s, _LazyStream)]
            edges = np.unique(np.concatenate([edges, *starts]))
        edges = np.clip(edges, lo, hi)
        for w_lo, w_hi in zip(edges[:-1].tolist(), edges[1:].tolist()):
            if w_hi <= w_lo:
                continue
            items: list[tuple[int, int, int, Any]] = []  # an EventBatch, or one to cut at yield time
            for order_i, name in enumerate(names):
                streams = self._streams[name]
                if width_ns is None:
                    b_lo, b_hi = recorded[name]
                    a, b = np.searchsorted(b_hi, (w_lo, w_hi), side="right")
                    for s_lo, s_hi in zip(b_lo[a:b].tolist(), b_hi[a:b].tolist()):
                        parts = [self._rows(streams, kd, s_lo, s_hi) for kd in layout.EVENT_KINDS]
                        items.append((s_hi, _PRIO_BATCH, order_i, EventBatch(name, s_lo, s_hi, *parts)))
                    continue
                pieces = [self._pieces(streams, kd, w_lo, w_hi) for kd in layout.EVENT_KINDS]
                start, end = self._clocks.get(name, (_EMPTY_I64, _EMPTY_I64))
                i0 = int(np.searchsorted(end, w_lo, side="right"))
                i1 = int(np.searchsorted(start, w_hi, side="left"))
                s_lo, s_hi = _slice_bounds(name, start[i0:max(i0, i1)], end[i0:max(i0, i1)],
                                           [p.ts for plist in pieces for p in plist], w_lo, w_hi, width_ns)
                if not len(s_lo):
                    continue
                # A slice whose rows lie in two row groups is cut where the first group ends (row
                # groups end where the time changes), so every batch is a view of one row group.
                ends = [np.array([p.ts[-1] for p in plist[:-1]], dtype=np.int64) for plist in pieces]
                s_lo, s_hi = _split_slices(s_lo, s_hi, np.concatenate(ends))
                cuts = []
                for plist, piece_ends in zip(pieces, ends):
                    which = np.searchsorted(piece_ends, s_hi, side="left")  # the piece holding each slice
                    a, b = np.zeros(len(s_lo), dtype=np.int64), np.zeros(len(s_lo), dtype=np.int64)
                    for j, piece in enumerate(plist):
                        sel = which == j
                        a[sel] = np.searchsorted(piece.ts, s_lo[sel], side="right")
                        b[sel] = np.searchsorted(piece.ts, s_hi[sel], side="right")
                    cuts.append((which.tolist(), a.tolist(), b.tolist()))
                for i, (b_lo_, b_hi_) in enumerate(zip(s_lo.tolist(), s_hi.tolist())):
                    refs = tuple((pieces[j][cuts[j][0][i]], cuts[j][1][i], cuts[j][2][i])
                                 for j in range(len(layout.EVENT_KINDS)))
                    items.append((b_hi_, _PRIO_BATCH, order_i, (name, b_lo_, b_hi_, refs)))
            items.sort(key=lambda it: it[:3])
            for t, prio, order_i, item in items:  # the batch's rows are decoded now, one row group at a time
                if isinstance(item, EventBatch):
                    yield t, prio, order_i, item
                    continue
                name, b_lo_, b_hi_, refs = item
                parts = [_columns_of(kd, piece.rows(a, b, _KIND_DTYPES[kd]))
                         for kd, (piece, a, b) in zip(layout.EVENT_KINDS, refs)]
                yield t, prio, order_i, EventBatch(name, b_lo_, b_hi_, *parts)
            del items

    @staticmethod
    def _pieces(streams: dict[int, _Stream], kind: int, lo: int, hi: int) -> list[_Piece]:
        """The rows in ``(lo, hi]``, one piece per row group (format 2: timestamps only, the other
        columns decoded when a batch reaches the group); pieces that share a timestamp (a row group
        cut inside a run of equal times) are joined (a copy) so a time splits them."""
        stream = streams.get(kind)
        if isinstance(stream, _LazyStream):
            plist = stream.lazy_pieces(lo, hi)
            if all(p.ts[-1] < q.ts[0] for p, q in zip(plist, plist[1:])):
                return plist or [_empty_piece(kind)]
        if stream is None:
            return [_empty_piece(kind)]
        arrays = stream.pieces(lo, hi)
        if not arrays:
            return [_empty_piece(kind)]
        if any(p[0][-1] >= q[0][0] for p, q in zip(arrays, arrays[1:])):
            arrays = [tuple(np.concatenate(parts) for parts in zip(*arrays))]
        return [_Piece(p[0], None, 0, 0, p) for p in arrays]

    @staticmethod
    def _rows_arrays(streams: dict[int, _Stream], kind: int, lo: int, hi: int) -> tuple[np.ndarray, ...]:
        stream = streams.get(kind)
        if stream is None:
            return tuple(np.empty(0, dtype=fmt.COLUMN_DTYPES[c]) for c in fmt.KIND_COLUMNS[kind])
        return stream.window(lo, hi)

    def _rows(self, streams: dict[int, _Stream], kind: int, lo: int, hi: int) -> Any:
        return _columns_of(kind, self._rows_arrays(streams, kind, lo, hi))


def _split_slices(s_lo: np.ndarray, s_hi: np.ndarray, cuts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint sorted slices ``(s_lo, s_hi]`` also cut at every time in ``cuts`` strictly inside one."""
    if not len(cuts) or not len(s_lo):
        return s_lo, s_hi
    cuts = np.unique(cuts)
    idx = np.searchsorted(s_lo, cuts, side="left") - 1  # the slice starting before each cut
    inside = (idx >= 0) & (cuts < s_hi[np.maximum(idx, 0)])
    cuts = cuts[inside]
    if not len(cuts):
        return s_lo, s_hi
    return np.sort(np.concatenate([s_lo, cuts])), np.sort(np.concatenate([cuts, s_hi]))


def _slice_bounds(name: str, b_start: np.ndarray, b_end: np.ndarray, times: list[np.ndarray], lo_ns: int,
                  hi_ns: int, width_ns: int) -> tuple[np.ndarray, np.ndarray]:
    """Slices ``(max(kW, lo), min((k+1)W, hi, observed)]`` touched by a recorded batch or an event.

    ``times`` are the event timestamps of the underlying (sorted; only those in ``(lo, hi]`` count)."""
    b_lo = np.maximum(b_start, lo_ns)
    b_hi = np.minimum(b_end, hi_ns)
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
        raise ValueError(f"{name}: {total:,} slices of {width_ns / NS_PER_SECOND:g} s would be needed "
                         f"(more than {MAX_SLICES:,}); use a wider slice")
    ks_batches = (np.repeat(k_first, counts)
                  + np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts))
    windows = []  # each event array restricted to (lo_ns, hi_ns]: sorted, so a view
    for arr in times:
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


def open_recording(path: str | Path) -> Recording:
    """Shorthand for :meth:`Recording.open`."""
    return Recording.open(path)


def session_date_of(path: str | Path) -> dt.date | None:
    """The session date in a recording's metadata (reads only the footer for Parquet)."""
    p = Path(path)
    if fmt.sniff_format(p) == "parquet":
        try:
            schema = pq.read_schema(p)
        except (pa.ArrowInvalid, OSError) as exc:
            raise RecordingError(p, f"corrupt or truncated Parquet file ({exc})") from None
        return RecordingMetadata.from_arrow(schema.metadata, p).session_date
    return Recording.open(p).metadata.session_date


__all__ = ["DAY_MARGIN_NS", "Recording", "RecordingError", "RecordingMetadata", "UnderlyingData", "open_recording",
           "session_date_of"]
