"""Write recordings: an appended Arrow IPC stream while recording, Parquet once closed.

Crash safety: every :meth:`RecordingWriter.flush` appends one complete IPC record batch and
flushes it to the OS, and :meth:`RecordingWriter.write` flushes by itself once
``flush_seconds`` have passed since the last flush. A recorder killed with SIGKILL therefore
loses at most the last ``flush_seconds`` of events; :class:`~zdte_tui.store.reader.Recording`
reads the stream up to its last complete batch.

Finalizing (:meth:`RecordingWriter.close`) converts the file in place: the stream is read
back batch by batch and regrouped by ``(sym, kind)`` into a temporary spill file
(:class:`_Spill`), planned for the reader from its timestamps (format 2,
:func:`zdte_tui.store.layout.plan_streams`), written as Parquet row group by row group to
``<path>.finalizing`` and atomically renamed over ``<path>``: memory is bounded by a row group
and a chunk per stream, not by the day. The Parquet bytes depend only on the events written
(not on flush timing).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import zdte_tui
from zdte_tui.market.events import ChainDefinition, Event, EventBatch, FeedStatus, SessionReset, VolContext
from zdte_tui.store import format as fmt
from zdte_tui.store import layout
from zdte_tui.store.footer import footer_copy_frame, footer_copy_parts
from zdte_tui.store.format import RecordingError, RecordingMetadata

PARQUET_COMPRESSION = "zstd"
PARQUET_ROW_GROUP_ROWS = 1 << 18  # at most 256 Ki rows per row group: what one damaged page costs (see docs)
FINALIZING_SUFFIX = ".finalizing"
SPILL_CHUNK_ROWS = 1 << 16  # finalize pass 1 spills each (sym, kind) stream in chunks of this many rows
WRITE_RECORDING_FLUSH_ROWS = 1 << 18  # write_recording hands rows to the finalizer in batches of about this many
_COPY_BYTES = 1 << 24


class _Spill:
    """Pass 1 of the bounded finalize: the long table, batch by batch, regrouped by ``(sym, kind)``.

    Each stream's rows (write order) go to one temporary Arrow IPC *file* (random access) in
    chunks of ``chunk_rows``; nothing of a row stays in memory once its chunk is written (the
    planner reads the timestamps back, :meth:`times`). A ``SessionReset`` drops everything
    before it but names, notes and truth, as :func:`layout.plan` does. Full rows held at once:
    the batch being added plus less than ``chunk_rows`` per stream (``max_resident_rows``).
    """

    def __init__(self, path: Path, chunk_rows: int = SPILL_CHUNK_ROWS) -> None:
        self.path = path
        self.chunk_rows = chunk_rows
        self._sink = pa.OSFile(str(path), "wb")
        self._ipc = pa.ipc.new_file(self._sink, fmt.SCHEMA)
        self._pending: dict[int, list[pa.RecordBatch]] = {}
        self._pending_rows: dict[int, int] = {}
        self.chunks: dict[int, list[tuple[int, int]]] = {}  # key -> [(batch index in the file, rows)]
        self.resets = 0
        self._n_batches = 0
        self.resident_rows = 0
        self.max_resident_rows = 0

    def add(self, batch: pa.RecordBatch) -> None:
        n = batch.num_rows
        if not n:
            return
        self.max_resident_rows = max(self.max_resident_rows, self.resident_rows + n)
        kind = fmt.column_numpy(batch.column("kind"))
        sym = fmt.column_numpy(batch.column("sym"))
        key = (sym.astype(np.int32) + 1) * fmt.N_KINDS + kind.astype(np.int32)
        keep, n_resets = layout.rows_kept_after_resets(kind)
        if n_resets:
            self.resets += n_resets
            for k in list(self.chunks) + list(self._pending):
                if k % fmt.N_KINDS not in layout.TIMELESS_KINDS:
                    self.resident_rows -= self._pending_rows.pop(k, 0)
                    for d in (self._pending, self.chunks):
                        d.pop(k, None)
        order = np.argsort(np.where(keep, key, -1), kind="stable")
        order = order[keep[order]]
        if not len(order):
            return
        sorted_key = key[order]
        cuts = np.flatnonzero(np.diff(sorted_key)) + 1
        for rows in np.split(order, cuts):
            k = int(key[rows[0]])
            part = batch.take(layout.numpy_array(rows.astype(np.int64)))
            self._pending.setdefault(k, []).append(part)
            self._pending_rows[k] = self._pending_rows.get(k, 0) + len(rows)
            self.resident_rows += len(rows)
            if self._pending_rows[k] >= self.chunk_rows:
                self._write(k)
        self.max_resident_rows = max(self.max_resident_rows, self.resident_rows + n)

    def _write(self, k: int) -> None:
        parts = self._pending.pop(k, [])
        rows = self._pending_rows.pop(k, 0)
        if not rows:
            return
        batch = pa.Table.from_batches(parts, schema=fmt.SCHEMA).combine_chunks().to_batches()[0]
        self._ipc.write_batch(batch)
        self.chunks.setdefault(k, []).append((self._n_batches, rows))
        self._n_batches += 1
        self.resident_rows -= rows

    def finish(self) -> list[int]:
        """Write the last partial chunks and close the file; the stream keys in ascending order."""
        for k in sorted(self._pending):
            self._write(k)
        self._ipc.close()
        self._sink.close()
        return sorted(self.chunks)

    def times(self, source: pa.NativeFile, k: int) -> layout.Chunks:
        """Stream ``k``'s ``(ts, aux)`` read back chunk by chunk from the finished file (only those
        two columns are read), for :func:`layout.plan_chunked`."""
        fields = [fmt.SCHEMA.get_field_index("ts_ns"), fmt.SCHEMA.get_field_index("aux")]
        reader = pa.ipc.open_file(source, options=pa.ipc.IpcReadOptions(included_fields=fields, use_threads=False))

        def chunks() -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
            for index, _rows in self.chunks[k]:
                b = reader.get_batch(index)
                yield fmt.column_numpy(b.column("ts_ns")), fmt.column_numpy(b.column("aux"))
        return chunks


class _Chunk:
    """``n`` rows of one kind: the columns it sets; the others take their fill value."""

    __slots__ = ("n", "kind", "sym", "columns", "payloads")

    def __init__(self, n: int, kind: int, sym: int, columns: dict[str, np.ndarray],
                 payloads: list[bytes] | None = None) -> None:
        self.n, self.kind, self.sym, self.columns, self.payloads = n, kind, sym, columns, payloads


def _chunks_to_batch(chunks: Sequence[_Chunk]) -> pa.RecordBatch:
    """Concatenate chunks column by column (numpy, no per-row Python except payload rows)."""
    n_rows = sum(c.n for c in chunks)
    starts = np.cumsum([0] + [c.n for c in chunks])
    out = {name: np.full(n_rows, fmt.COLUMN_FILL[name], dtype) for name, dtype in fmt.COLUMN_DTYPES.items()}
    out["kind"] = np.repeat(np.array([c.kind for c in chunks], dtype=np.int8), [c.n for c in chunks])
    out["sym"] = np.repeat(np.array([c.sym for c in chunks], dtype=np.int16), [c.n for c in chunks])
    for c, start in zip(chunks, starts.tolist()):
        for name, values in c.columns.items():
            out[name][start:start + c.n] = values
    arrays: list[pa.Array] = [layout.numpy_array(out[name]) for name in fmt.COLUMN_DTYPES]
    lengths = np.zeros(n_rows, dtype=np.int64)
    blobs: list[bytes] = []
    row = 0
    for c in chunks:
        if c.payloads:
            lengths[row:row + c.n] = [len(p) for p in c.payloads]
            blobs.extend(c.payloads)
        row += c.n
    offsets = np.zeros(n_rows + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    payload = pa.Array.from_buffers(pa.binary(), n_rows,
                                    [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(blobs))])
    arrays.append(payload)
    return pa.RecordBatch.from_arrays(arrays, schema=fmt.SCHEMA)


class RecordingWriter:
    """Append events to a recording; a context manager that finalizes to Parquet on exit.

    ``time_fn`` (wall seconds, monotonic) only decides when to flush; nothing wall-clock
    related is stored, so the finalized file is a pure function of the events written.
    """

    def __init__(self, path: str | Path, *, source: str, simulated: bool,
                 session_date: dt.date | None, symbols: Iterable[str] = (),
                 flush_seconds: float = 1.0, notes: Iterable[str] | None = None,
                 extra: Mapping[str, str] | None = None,
                 time_fn: Callable[[], float] = time.monotonic, overwrite: bool = False,
                 _stream: bool = True, _bounded: bool = True, _spill_chunk_rows: int = SPILL_CHUNK_ROWS) -> None:
        self.path = Path(path)
        self.row_group_rows = PARQUET_ROW_GROUP_ROWS
        self.flush_seconds = float(flush_seconds)
        self._time_fn = time_fn
        self._stream = _stream
        self._symbols: dict[str, int] = {}
        self._notes: list[str] = []
        self._definitions: dict[str, ChainDefinition] = {}
        self._pending: list[_Chunk] = []
        self._pending_rows = 0  # rows in _pending (counted without a stream only)
        self._batches: list[pa.RecordBatch] = []  # only without a stream (write_recording), unbounded finalize
        # False: the finalize that reads the whole day back (kept so tests can compare the two)
        self.bounded_finalize = _bounded
        self.spill_chunk_rows = _spill_chunk_rows
        self._spill: _Spill | None = None
        self.finalize_max_resident_rows = 0
        self._clock_ns: dict[str, int] = {}  # per underlying: the latest batch end_ns written
        self.rows_written = 0
        self.closed = False
        self._metadata = RecordingMetadata(
            source=source, simulated=bool(simulated), session_date=session_date, symbols=tuple(symbols),
            zdte_version=zdte_tui.__version__, format_version=fmt.FORMAT_VERSION,
            notes=tuple(notes or ()), finalized=False, extra=dict(extra or {}))
        self._file: BinaryIO | None = None
        self._ipc: pa.ipc.RecordBatchStreamWriter | None = None
        self._lock_fd: int | None = None
        if self._stream:
            self._lock_fd = _claim(self.path, overwrite)
            try:
                self._file = open(self.path, "wb")
            except OSError as exc:
                self._release()
                raise RecordingError(self.path, f"cannot create ({exc.strerror or exc})") from None
            schema = fmt.SCHEMA.with_metadata(self._metadata.to_arrow())
            self._ipc = pa.ipc.new_stream(self._file, schema)
        for s in self._metadata.symbols:
            self._symbol_code(s)
        for note in self._metadata.notes:
            self._notes.append(note)
            self._pending.append(_Chunk(1, fmt.KIND_NOTE, fmt.NO_SYMBOL, {}, [note.encode()]))
        self._last_flush = self._time_fn()
        self.flush()

    # ------------------------------------------------------------------ writing
    def _symbol_code(self, underlying: str) -> int:
        code = self._symbols.get(underlying)
        if code is None:
            code = len(self._symbols)
            if code > np.iinfo(np.int16).max:
                raise RecordingError(self.path, "too many underlyings (more than 32767)")
            self._symbols[underlying] = code
            self._pending.append(_Chunk(1, fmt.KIND_SYMBOL, code, {}, [underlying.encode()]))
        return code

    def write(self, event: Event) -> None:
        """Buffer one event; flushes when ``flush_seconds`` have passed since the last flush."""
        self._check_open()
        n_chunks = len(self._pending)
        if isinstance(event, EventBatch):
            self._write_batch(event)
        elif isinstance(event, ChainDefinition):
            sym = self._symbol_code(event.underlying)
            self._definitions[event.underlying] = event
            clock = self._clock_ns.get(event.underlying, 0)
            self._pending.append(_Chunk(1, fmt.KIND_DEFINITION, sym, {"ts_ns": np.array([clock])},
                                        [fmt.encode_definition(event)]))
        elif isinstance(event, FeedStatus):
            sym = fmt.NO_SYMBOL if event.underlying is None else self._symbol_code(event.underlying)
            self._pending.append(_Chunk(1, fmt.KIND_STATUS, sym,
                                        {"ts_ns": np.array([event.ts_ns]), "aux": np.array([event.count])},
                                        [fmt.encode_status(event)]))
        elif isinstance(event, VolContext):
            sym = self._symbol_code(event.underlying)
            self._pending.append(_Chunk(1, fmt.KIND_VOL, sym, {"ts_ns": np.array([event.ts_ns])},
                                        [fmt.encode_vol_context(event)]))
        elif isinstance(event, SessionReset):
            self._pending.append(_Chunk(1, fmt.KIND_RESET, fmt.NO_SYMBOL, {"ts_ns": np.array([event.ts_ns])}))
        else:
            raise TypeError(f"cannot record {type(event).__name__}: not a zdte event")
        if self._stream and self._time_fn() - self._last_flush >= self.flush_seconds:
            self.flush()
        elif not self._stream and self.bounded_finalize:
            self._pending_rows += sum(c.n for c in self._pending[n_chunks:])
            if self._pending_rows >= WRITE_RECORDING_FLUSH_ROWS:
                self.flush()  # hand the rows to the finalizer's spill (the file does not depend on flush timing)

    def _write_batch(self, b: EventBatch) -> None:
        sym = self._symbol_code(b.underlying)
        if len(b.spot):
            self._pending.append(_Chunk(len(b.spot), fmt.KIND_SPOT, sym,
                                        {"ts_ns": b.spot.ts_ns, "price": b.spot.price}))
        q = b.quotes
        if len(q):
            self._pending.append(_Chunk(len(q), fmt.KIND_QUOTE, sym, {
                "ts_ns": q.ts_ns, "contract": q.contract, "bid": q.bid, "ask": q.ask,
                "bid_size": q.bid_size, "ask_size": q.ask_size}))
        t = b.trades
        if len(t):
            self._pending.append(_Chunk(len(t), fmt.KIND_TRADE, sym, {
                "ts_ns": t.ts_ns, "contract": t.contract, "price": t.price, "size": t.size,
                "exchange": t.exchange}))
        self._pending.append(_Chunk(1, fmt.KIND_CLOCK, sym,
                                    {"ts_ns": np.array([b.end_ns]), "aux": np.array([b.start_ns])}))
        self._clock_ns[b.underlying] = max(self._clock_ns.get(b.underlying, 0), int(b.end_ns))

    def write_truth(self, underlying: str, truth: Mapping[str, np.ndarray]) -> None:
        """Store simulator truth (e.g. per-trade customer side) apart from the events.

        The reader returns it from :meth:`Recording.truth`; replay never emits it.
        """
        self._check_open()
        sym = self._symbol_code(underlying)
        payloads = [fmt.encode_truth_array(name, np.asarray(values)) for name, values in sorted(truth.items())]
        if payloads:
            self._pending.append(_Chunk(len(payloads), fmt.KIND_TRUTH, sym, {}, payloads))

    def add_note(self, note: str) -> None:
        """Append a free-form note (stored as a row now, and in the finalized metadata)."""
        self._check_open()
        self._notes.append(note)
        self._pending.append(_Chunk(1, fmt.KIND_NOTE, fmt.NO_SYMBOL, {}, [note.encode()]))

    def flush(self) -> None:
        """Append the buffered rows as one IPC record batch and hand it to the OS."""
        self._last_flush = self._time_fn()
        self._pending_rows = 0
        if not self._pending:
            return
        batch = _chunks_to_batch(self._pending)
        self._pending = []
        self.rows_written += batch.num_rows
        if self._ipc is None or self._file is None:  # not streaming: rows go to the finalizer's spill
            if self.bounded_finalize:
                self._spill_batch(batch)
            else:
                self._batches.append(batch)
            return
        try:
            self._ipc.write_batch(batch, custom_metadata={fmt.BATCH_CRC_KEY: str(fmt.batch_crc(batch)).encode()})
            self._file.flush()
        except OSError as exc:
            raise RecordingError(self.path, f"write failed ({exc.strerror or exc})") from None

    # ------------------------------------------------------------------ closing
    def _check_open(self) -> None:
        if self.closed:
            raise RecordingError(self.path, "recording is already closed")

    def final_metadata(self, layout_values: Mapping[str, object] | None = None) -> RecordingMetadata:
        m = self._metadata
        return RecordingMetadata(
            source=m.source, simulated=m.simulated, session_date=m.session_date,
            symbols=tuple(self._symbols), zdte_version=m.zdte_version, format_version=m.format_version,
            notes=tuple(self._notes), finalized=True, extra=m.extra, layout=dict(layout_values or {}))

    def close(self, finalize: bool = True) -> None:
        """Flush, then (``finalize=True``) convert the file to Parquet in place.

        ``finalize=False`` leaves a valid, flushed IPC stream (what a crash leaves behind,
        minus the unflushed tail); the reader accepts it.
        """
        if self.closed:
            return
        self.flush()
        self.closed = True
        try:
            if self._ipc is not None and self._file is not None:
                self._ipc.close()
                self._file.flush()
                os.fsync(self._file.fileno())
                self._file.close()
            if not finalize:
                return
            if self.bounded_finalize:
                self._finalize_bounded()
                return
            if self._stream:
                try:
                    with pa.memory_map(str(self.path)) as source:
                        table = pa.ipc.open_stream(source).read_all()
                except (OSError, pa.ArrowInvalid) as exc:
                    raise RecordingError(self.path, f"cannot read back the stream to finalize ({exc})") from None
            else:
                table = pa.Table.from_batches(self._batches, schema=fmt.SCHEMA)
                self._batches = []
            self._write_parquet(table)
        finally:
            self._drop_spill()
            self._release()  # the lock is held until the Parquet file has replaced the stream

    def _release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor drops the flock
            self._lock_fd = None

    # ------------------------------------------------------------------ bounded finalize
    def _spill_batch(self, batch: pa.RecordBatch) -> None:
        if self._spill is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd, name = tempfile.mkstemp(prefix=self.path.name + ".", suffix=".spill", dir=self.path.parent)
                os.close(fd)
                self._spill = _Spill(Path(name), self.spill_chunk_rows)
            except OSError as exc:
                raise RecordingError(self.path, f"cannot create the finalize spill ({exc.strerror or exc})") from None
        try:
            self._spill.add(batch)
        except OSError as exc:
            raise RecordingError(self.path, f"cannot write the finalize spill file ({exc})") from None

    def _drop_spill(self) -> None:
        if self._spill is not None:
            self.finalize_max_resident_rows = self._spill.max_resident_rows
            self._spill.path.unlink(missing_ok=True)
            self._spill = None

    def _finalize_bounded(self) -> None:
        """Finalize in two passes with memory bounded by a row group, not by the day.

        Pass 1 (:class:`_Spill`) reads the journal batch by batch (``write_recording`` hands its
        batches over as it goes) and regroups the rows by ``(sym, kind)`` into a temporary IPC
        file; pass 2 plans the row groups from the timestamps read back from that file, one
        30-minute block of a stream at a time (:func:`layout.plan_chunked`; a damaged stream is
        read whole), and writes them one by one, each gathered from its stream's chunks. The
        output is the same file as :meth:`_write_parquet` on the whole table."""
        if self._stream:
            try:
                with pa.OSFile(str(self.path), "rb") as source:
                    for batch in pa.ipc.open_stream(source):
                        self._spill_batch(batch)
            except (OSError, pa.ArrowInvalid) as exc:
                raise RecordingError(self.path, f"cannot read back the stream to finalize ({exc})") from None
        if self._spill is None:
            self._spill_batch(pa.RecordBatch.from_pylist([], schema=fmt.SCHEMA))  # an empty day
        spill = self._spill
        assert spill is not None
        keys = spill.finish()
        names = {code: name for name, code in self._symbols.items()}
        try:
            with pa.OSFile(str(spill.path), "rb") as src:  # plan from the spilled timestamps, block by block
                planned = layout.plan_chunked(((k % fmt.N_KINDS, k // fmt.N_KINDS - 1, spill.times(src, k))
                                               for k in keys), names, self._metadata.session_date,
                                              self.row_group_rows, spill.resets)
        except (OSError, pa.ArrowInvalid) as exc:
            raise RecordingError(self.path, f"cannot read back the finalize spill file ({exc})") from None
        metadata = self.final_metadata({
            "row_groups": [g.index_entry for g in planned.groups], "skipped": planned.skipped,
            "skipped_rows": planned.skipped_rows, "resets": planned.resets,
        }).to_arrow(definitions=list(self._definitions.values()))
        starts = {k: np.cumsum([0] + [n for _, n in spill.chunks[k]]) for k in keys}
        body = self.path.with_name(self.path.name + FINALIZING_SUFFIX + ".body")
        tmp = self.path.with_name(self.path.name + FINALIZING_SUFFIX)
        try:
            with pa.OSFile(str(spill.path), "rb") as src:
                reader = pa.ipc.open_file(src)
                with pq.ParquetWriter(str(body), fmt.SCHEMA_V2.with_metadata(metadata),
                                      compression=PARQUET_COMPRESSION, write_page_checksum=True,
                                      column_encoding={"ts_ns": "DELTA_BINARY_PACKED"},
                                      use_dictionary=[f.name for f in fmt.SCHEMA_V2 if f.name != "ts_ns"]) as pw:
                    for g in planned.groups:
                        k = (g.sym + 1) * fmt.N_KINDS + g.kind
                        table = _gather(reader, spill.chunks[k], starts[k], g.positions())
                        spill.max_resident_rows = max(spill.max_resident_rows,
                                                      len(g.rows) + spill.chunk_rows + table.num_rows)
                        cols = {name: fmt.column_numpy(table.column(name)) for name in fmt.COLUMN_DTYPES}
                        local = layout.PlannedGroup(g.sym, g.kind, range(len(g.rows)), g.first_ts, g.last_ts)
                        pw.write_table(layout.group_table(cols, table.column("payload").combine_chunks(), local),
                                       row_group_size=len(g.rows))
            _copy_with_footer(body, tmp)
            os.replace(tmp, self.path)
        except OSError as exc:
            raise RecordingError(self.path, f"cannot finalize to Parquet ({exc.strerror or exc})") from None
        finally:
            body.unlink(missing_ok=True)

    def _write_parquet(self, table: pa.Table) -> None:
        """Regroup the long table for the reader (format 2, :func:`layout.plan`) and write it."""
        table = table.combine_chunks()
        cols = {name: fmt.column_numpy(table.column(name)) for name in fmt.COLUMN_DTYPES}
        payload = table.column("payload").combine_chunks()
        names = {code: name for name, code in self._symbols.items()}
        planned = layout.plan(cols, names, self._metadata.session_date, self.row_group_rows)
        metadata = self.final_metadata({
            "row_groups": [g.index_entry for g in planned.groups], "skipped": planned.skipped,
            "skipped_rows": planned.skipped_rows, "resets": planned.resets,
        }).to_arrow(definitions=list(self._definitions.values()))
        tmp = self.path.with_name(self.path.name + FINALIZING_SUFFIX)
        sink = pa.BufferOutputStream()
        # Timestamps are sorted within a row group: delta encoding stores them in ~1-2 bytes a row
        # (a simulated SPY day: 15.5 MB instead of 22.5 MB with dictionary encoding).
        with pq.ParquetWriter(sink, fmt.SCHEMA_V2.with_metadata(metadata), compression=PARQUET_COMPRESSION,
                              write_page_checksum=True, column_encoding={"ts_ns": "DELTA_BINARY_PACKED"},
                              use_dictionary=[f.name for f in fmt.SCHEMA_V2 if f.name != "ts_ns"]) as pw:
            for g in planned.groups:
                pw.write_table(layout.group_table(cols, payload, g), row_group_size=len(g.rows))
        del table, cols, payload
        parts = footer_copy_parts(memoryview(sink.getvalue()))
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as f:
                for part in parts:
                    f.write(part)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            raise RecordingError(self.path, f"cannot finalize to Parquet ({exc.strerror or exc})") from None

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        # Finalize even on an exception: everything written so far is valid data.
        self.close(finalize=True)


def _gather(reader: pa.ipc.RecordBatchFileReader, chunks: list[tuple[int, int]], starts: np.ndarray,
            rows: np.ndarray) -> pa.Table:
    """Rows ``rows`` (ascending positions in one stream) read from the stream's spill chunks,
    one chunk at a time."""
    first = int(np.searchsorted(starts, rows[0], side="right")) - 1
    last = int(np.searchsorted(starts, rows[-1], side="right")) - 1
    parts = []
    for c in range(first, last + 1):
        lo, hi = np.searchsorted(rows, [starts[c], starts[c + 1]])
        if hi > lo:
            batch = reader.get_batch(chunks[c][0])
            parts.append(batch.take(layout.numpy_array((rows[lo:hi] - starts[c]).astype(np.int64))))
    return pa.Table.from_batches(parts, schema=fmt.SCHEMA).combine_chunks()


def _copy_with_footer(body: Path, out: Path) -> None:
    """Copy the Parquet file ``body`` to ``out`` with the footer copy after ``PAR1``
    (:func:`footer_copy_parts`), in pieces of ``_COPY_BYTES``; fsynced."""
    size = body.stat().st_size
    with open(body, "rb") as src:
        src.seek(max(0, size - 8))
        tail = src.read(8)
        n = int.from_bytes(tail[:4], "little") if len(tail) == 8 else 0
        if tail[4:] != b"PAR1" or n <= 0 or n > size - 12:
            raise OSError(f"{body.name}: no Parquet footer")
        src.seek(size - 8 - n)
        footer = src.read(n)
        head, end = footer_copy_frame(footer)
        with open(out, "wb") as f:
            for part in head:
                f.write(part)
            src.seek(4)
            left = size - 12 - n
            while left > 0:
                piece = src.read(min(_COPY_BYTES, left))
                if not piece:
                    raise OSError(f"{body.name}: shorter than its footer says")
                f.write(piece)
                left -= len(piece)
            for part in end:
                f.write(part)
            f.flush()
            os.fsync(f.fileno())


def _claim(path: Path, overwrite: bool) -> int:
    """Create (or, with ``overwrite``, reuse) ``path`` and take an exclusive ``flock`` on it.

    Returns the locked descriptor. Raises :class:`RecordingError` when the file exists and
    ``overwrite`` is False, or when another process holds the lock (a recorder writing it)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_RDWR | os.O_CREAT | (0 if overwrite else os.O_EXCL)
        fd = os.open(path, flags, 0o644)
    except FileExistsError:
        raise RecordingError(path, "already exists: refusing to overwrite it (pass --force to replace it)") from None
    except OSError as exc:
        raise RecordingError(path, f"cannot create ({exc.strerror or exc})") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        raise RecordingError(path, "another recorder is writing this file (it holds the lock)") from None
    return fd


def write_recording(path: str | Path, events: Iterable[Event], *, source: str, simulated: bool,
                    session_date: dt.date | None, symbols: Iterable[str] = (),
                    notes: Iterable[str] | None = None,
                    truth: Mapping[str, Mapping[str, np.ndarray]] | None = None,
                    extra: Mapping[str, str] | None = None) -> Path:
    """Write a whole session straight to Parquet (no IPC phase, no timed flushes).

    ``truth`` maps underlying -> {name: array}. Returns the path. Used by ``zdte simulate``
    and the DBN importer; the file is byte-identical to recording the same events live.
    """
    w = RecordingWriter(path, source=source, simulated=simulated, session_date=session_date,
                        symbols=symbols, notes=notes, extra=extra, _stream=False)
    for e in events:
        w.write(e)
    for underlying, arrays in (truth or {}).items():
        w.write_truth(underlying, arrays)
    w.close()
    return w.path
