"""Format 2: a finalized recording laid out for its reader.

The journal (and a format-1 file) is one long table in write order. Finalizing regroups it:

* every row group holds one ``(sym, kind)`` in time order, with only that kind's own columns
  filled (:data:`~zdte_tui.store.format.KIND_COLUMNS`; the others are null and never read);
* spot, quote, trade and batch-bound (CLOCK) rows are cut into row groups at 30-minute ET
  blocks (:data:`BLOCK_NS`: a row at ``ts`` is in block ``(ts - 1) // BLOCK_NS``, the same
  half-open ``(kW, (k+1)W]`` rule as replay slices), and a block with more than
  ``row_group_rows`` rows into near-equal parts;
* row groups are ordered: names, notes, definitions, statuses, vol contexts, resets and batch
  bounds first (read when the file is opened), then the event blocks in time order (read as
  the replay reaches them), simulator truth last (read only by ``Recording.truth``);
* the footer's ``zdte.row_groups`` lists ``[sym, kind, rows, first_ts, last_ts]`` per row group.

Rows a reader would have skipped are dropped here, once, and named in ``zdte.skipped``:
timestamps outside the session day or out of order (:func:`plausible_times`), batch bounds out
of range, and everything a recorded ``SessionReset`` superseded. Everything here is vectorized
(one stable sort, ``searchsorted``); the only Python loops are per row group.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from zdte_tui.market.calendar import ET
from zdte_tui.market.events import NS_PER_SECOND
from zdte_tui.store import format as fmt

BLOCK_NS = 30 * 60 * NS_PER_SECOND  # row groups of timed kinds never straddle a 30-minute ET block
DAY_MARGIN_NS = 60 * NS_PER_SECOND  # a first batch may start just before ET midnight ((t-30 s, t])
_MAX_REPAIR_PASSES = 16
EVENT_KINDS = (fmt.KIND_SPOT, fmt.KIND_QUOTE, fmt.KIND_TRADE)
# Read when the file is opened (small: a few rows per batch or per event of this kind).
OPEN_KINDS = (fmt.KIND_SYMBOL, fmt.KIND_NOTE, fmt.KIND_DEFINITION, fmt.KIND_STATUS, fmt.KIND_VOL,
              fmt.KIND_RESET, fmt.KIND_CLOCK)
TIMELESS_KINDS = (fmt.KIND_SYMBOL, fmt.KIND_NOTE, fmt.KIND_TRUTH)  # a SessionReset keeps these
_KIND_LABEL = fmt.KIND_NAMES


def session_day_ns(session_date: dt.date | None) -> tuple[int, int] | None:
    """``[00:00, 24:00)`` ET of the session date in ns UTC (None when the date is unknown)."""
    if session_date is None:
        return None
    start = dt.datetime.combine(session_date, dt.time(0), tzinfo=ET)
    end = dt.datetime.combine(session_date + dt.timedelta(days=1), dt.time(0), tzinfo=ET)
    return int(start.timestamp()) * NS_PER_SECOND, int(end.timestamp()) * NS_PER_SECOND


def plausible_times(t: np.ndarray, day: tuple[int, int] | None) -> np.ndarray:
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
    if keep.all() and not (t[1:] < t[:-1]).any():
        return keep  # the usual case, without the index copies below (a day's stream can be 20 M rows)
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


def plausible_batches(start: np.ndarray, end: np.ndarray, day: tuple[int, int] | None) -> np.ndarray:
    """Indices of batch bounds kept: ``start <= end``, both in the day, ends and starts in order."""
    keep = start <= end
    if day is not None:
        keep &= (start >= day[0] - DAY_MARGIN_NS) & (start < day[1])
    ok = np.flatnonzero(keep)
    ok = ok[plausible_times(end[ok], day)]
    return ok[plausible_times(start[ok], None)]


def kind_mask(kinds: Iterable[int]) -> np.ndarray:
    """Lookup table: ``kind_mask(kinds)[kind_column]`` is True where the row's kind is listed."""
    lut = np.zeros(256, dtype=bool)
    lut[list(kinds)] = True
    return lut


def rows_kept_after_resets(kind: np.ndarray) -> tuple[np.ndarray, int]:
    """``(keep, n_resets)`` for a long table's ``kind`` column in write order: a SessionReset (a replay
    seeked backwards while recording) invalidates every earlier row except the timeless kinds
    (:data:`TIMELESS_KINDS`), so ``keep`` is False there; ``n_resets`` counts the resets."""
    keep = np.ones(len(kind), dtype=bool)
    resets = np.flatnonzero(kind == fmt.KIND_RESET)
    if len(resets):
        last = int(resets[-1])
        keep[: last + 1] = kind_mask(TIMELESS_KINDS)[kind[: last + 1]]
    return keep, len(resets)


def reset_warning(n_resets: int) -> str:
    """The reader's warning for a recording that holds ``n_resets`` SessionResets."""
    return (f"recording holds {n_resets} SessionReset(s) (a replay was seeked backwards while recording): "
            "replaying the events after the last one")


def definition_clock(kind: np.ndarray, sym: np.ndarray, ts: np.ndarray) -> np.ndarray:
    """Per DEFINITION row (long table, write order): the latest batch end of *its* underlying
    written before it (0 before any), i.e. the per-underlying writer clock.

    Writers before format 2 stamped definitions with the latest batch end of *any* underlying,
    which put a second underlying's first definition after its own first batches."""
    def_rows = np.flatnonzero(kind == fmt.KIND_DEFINITION)
    out = np.zeros(len(def_rows), dtype=np.int64)
    clock_rows = np.flatnonzero(kind == fmt.KIND_CLOCK)
    for code in np.unique(sym[def_rows]).tolist():
        mine = def_rows[sym[def_rows] == code]
        clocks = clock_rows[sym[clock_rows] == code]
        if not len(clocks):
            continue
        reach = np.maximum.accumulate(ts[clocks])
        before = np.searchsorted(clocks, mine) - 1
        out[sym[def_rows] == code] = np.where(before >= 0, reach[np.maximum(before, 0)], 0)
    return out


@dataclass(frozen=True)
class PlannedGroup:
    """One row group of a format-2 file: rows ``rows`` (indices into the long table, or into its
    stream for the bounded finalizer) of one (sym, kind); a ``range`` when they are consecutive
    (:func:`plan_chunked`: no index array of the day's rows is held)."""

    sym: int
    kind: int
    rows: np.ndarray | range
    first_ts: int
    last_ts: int

    def positions(self) -> np.ndarray:
        """``rows`` as an int64 array."""
        r = self.rows
        return np.arange(r.start, r.stop, dtype=np.int64) if isinstance(r, range) else r

    @property
    def index_entry(self) -> list[int]:
        return [self.sym, self.kind, len(self.rows), self.first_ts, self.last_ts]


@dataclass
class Plan:
    groups: list[PlannedGroup]
    skipped: list[str]
    skipped_rows: int
    resets: int


def plan(cols: dict[str, np.ndarray], names: dict[int, str], session_date: dt.date | None,
         row_group_rows: int) -> Plan:
    """Group the long table ``cols`` (write order) into format-2 row groups (see the module doc)."""
    kind, sym, ts = cols["kind"], cols["sym"], cols["ts_ns"]
    keep, n_resets = rows_kept_after_resets(kind)
    key = (sym.astype(np.int32) + 1) * fmt.N_KINDS + kind.astype(np.int32)
    order = np.argsort(np.where(keep, key, -1), kind="stable")
    order = order[keep[order]]
    sorted_key = key[order]
    cuts = np.flatnonzero(np.diff(sorted_key)) + 1
    streams = ((rows, ts[rows], cols["aux"][rows]) for rows in (np.split(order, cuts) if len(order) else []))
    return _plan(((int(kind[rows[0]]), int(sym[rows[0]]), t, aux, rows) for rows, t, aux in streams),
                 names, session_date, row_group_rows, n_resets)


def plan_streams(streams: Iterable[tuple[int, int, np.ndarray, np.ndarray]], names: dict[int, str],
                 session_date: dt.date | None, row_group_rows: int, resets: int) -> Plan:
    """:func:`plan` for a table already split into its ``(sym, kind)`` streams (what remains after
    the last reset), given in ascending ``(sym + 1) * N_KINDS + kind`` order as
    ``(kind, sym, ts, aux)``, each in write order. A group's ``rows`` index its own stream.

    The bounded finalizer (:class:`~zdte_tui.store.writer.RecordingWriter`) uses it: only the
    ``ts`` (and, for batch bounds, ``aux``) columns of the day are needed to plan."""
    return _plan(((k, s, t, aux, None) for k, s, t, aux in streams), names, session_date, row_group_rows, resets)


class _Planned:
    """The row groups planned so far (three sections, ordered as in the file) and what was skipped."""

    def __init__(self, session_date: dt.date | None, row_group_rows: int) -> None:
        self.day = session_day_ns(session_date)
        self.row_group_rows = row_group_rows
        self.skipped: list[str] = []
        self.n_skipped = 0
        self.opening: list[PlannedGroup] = []
        self.events: list[tuple[int, int, PlannedGroup]] = []  # (block, position) -> group
        self.truth: list[PlannedGroup] = []

    def add(self, g: PlannedGroup) -> None:
        if g.kind in EVENT_KINDS:
            self.events.append((int((g.first_ts - 1) // BLOCK_NS), len(self.events), g))
        elif g.kind == fmt.KIND_TRUTH:
            self.truth.append(g)
        else:
            self.opening.append(g)

    def stream(self, k: int, s: int, name: str, t_stream: np.ndarray, aux: np.ndarray,
               index: np.ndarray | None) -> None:
        """Plan one whole ``(sym, kind)`` stream (``index`` maps its positions to table rows)."""
        rows = np.arange(len(t_stream))  # positions in the stream; ``index`` maps them to table rows
        if k in EVENT_KINDS:
            ok = plausible_times(t_stream, self.day)
            if not ok.all():
                bad = int((~ok).sum())
                self.n_skipped += bad
                self.skipped.append(f"{name}: {bad:,} {_KIND_LABEL[k]} row(s) with a timestamp outside the session "
                                    "day or out of time order skipped (damaged recording?)")
                rows = rows[ok]
        elif k == fmt.KIND_CLOCK:
            ok_idx = plausible_batches(aux, t_stream, self.day)
            if len(ok_idx) != len(rows):
                bad = len(rows) - len(ok_idx)
                self.n_skipped += bad
                self.skipped.append(f"{name}: {bad:,} batch bound row(s) out of range or order skipped "
                                    "(damaged recording?)")
                rows = rows[ok_idx]
        if not len(rows):
            return
        for part in _cut(rows, t_stream, k in EVENT_KINDS, self.row_group_rows):
            t = t_stream[part]
            self.add(PlannedGroup(s, k, part if index is None else index[part], int(t.min()), int(t.max())))

    def plan(self, resets: int) -> Plan:
        self.opening.sort(key=lambda g: (OPEN_KINDS.index(g.kind), g.sym))
        self.events.sort(key=lambda e: (e[0], e[2].sym, e[2].kind, e[1]))
        return Plan(self.opening + [g for _, _, g in self.events] + self.truth, self.skipped, self.n_skipped, resets)


def _plan(streams: Iterable[tuple[int, int, np.ndarray, np.ndarray, np.ndarray | None]], names: dict[int, str],
          session_date: dt.date | None, row_group_rows: int, resets: int) -> Plan:
    planned = _Planned(session_date, row_group_rows)
    for k, s, t_stream, aux, index in streams:
        planned.stream(k, s, names.get(s, str(s)), t_stream, aux, index)
    return planned.plan(resets)


Chunks = Callable[[], Iterator[tuple[np.ndarray, np.ndarray | None]]]


def plan_chunked(streams: Iterable[tuple[int, int, Chunks]], names: dict[int, str], session_date: dt.date | None,
                 row_group_rows: int, resets: int) -> Plan:
    """:func:`plan_streams` for streams read back chunk by chunk, in memory bounded by a 30-minute
    block of one stream, not by the day.

    ``streams`` gives ``(kind, sym, chunks)`` in the order of :func:`plan_streams`; ``chunks()``
    yields the stream's ``(ts, aux)`` in write order (``aux`` only needed for batch bounds) and may
    be called more than once. An event stream whose times are all inside the session day and in
    order (what every undamaged recording holds) is planned block by block as it is read: its row
    groups are consecutive ``range`` s of positions. Any other stream (a damaged one, where rows are
    dropped, and the small opening, truth and batch-bound streams) is read whole and planned as
    :func:`plan_streams` does. The plan is the same as :func:`plan_streams` on the whole columns."""
    planned = _Planned(session_date, row_group_rows)
    for k, s, chunks in streams:
        name = names.get(s, str(s))
        if k in EVENT_KINDS:
            groups = _plan_in_order(s, k, chunks(), planned.day, row_group_rows)
            if groups is not None:
                for g in groups:
                    planned.add(g)
                continue
        parts = list(chunks())
        ts = np.concatenate([t for t, _ in parts]) if parts else np.empty(0, dtype=np.int64)
        auxes = [a for _, a in parts if a is not None] if k == fmt.KIND_CLOCK else []
        aux = np.concatenate(auxes) if auxes else ts  # batch bounds: each batch's start
        del parts
        planned.stream(k, s, name, ts, aux, None)
    return planned.plan(resets)


def _plan_in_order(sym: int, kind: int, chunks: Iterator[tuple[np.ndarray, np.ndarray | None]],
                   day: tuple[int, int] | None, row_group_rows: int) -> list[PlannedGroup] | None:
    """Row groups of an event stream planned one 30-minute block at a time, or None as soon as a
    time is outside the day or out of order (then :func:`plausible_times` must see it whole)."""
    groups: list[PlannedGroup] = []
    block: list[np.ndarray] = []  # the current block's times, in pieces
    block_start = 0  # stream position of the block's first row
    block_id: int | None = None
    last: int | None = None

    def close() -> None:
        nonlocal block_start
        t_block = np.concatenate(block) if len(block) > 1 else block[0]
        block.clear()
        for part in _cut(np.arange(len(t_block)), t_block, True, row_group_rows):
            t = t_block[part]
            lo = block_start + int(part[0])
            groups.append(PlannedGroup(sym, kind, range(lo, lo + len(part)), int(t.min()), int(t.max())))
        block_start += len(t_block)

    for t, _aux in chunks:
        if not len(t):
            continue
        if day is not None and not bool(((t >= day[0] - DAY_MARGIN_NS) & (t < day[1])).all()):
            return None
        if (last is not None and int(t[0]) < last) or bool((t[1:] < t[:-1]).any()):
            return None
        last = int(t[-1])
        ids = (t - 1) // BLOCK_NS
        edges = np.flatnonzero(ids[1:] != ids[:-1]) + 1
        start = 0
        for end in [*edges.tolist(), len(t)]:
            b = int(ids[start])
            if block_id is not None and b != block_id:
                close()
            block_id = b
            block.append(t[start:end])
            start = end
    if block:
        close()
    return groups


def _cut(rows: np.ndarray, ts: np.ndarray, timed: bool, max_rows: int) -> Iterator[np.ndarray]:
    """Row groups of one stream: at 30-minute blocks (timed kinds), then at most ``max_rows`` each."""
    if timed:
        t = ts[rows]
        t -= 1
        t //= BLOCK_NS  # the block of each row, in place (one copy of the stream's times)
        pieces = np.split(rows, np.flatnonzero(t[1:] != t[:-1]) + 1)
        del t
    else:
        pieces = [rows]
    for piece in pieces:
        n_parts = max(1, -(-len(piece) // max(1, max_rows)))
        if n_parts == 1:
            yield piece
            continue
        # Near-equal parts of at most max_rows, each cut moved back to where the time changes (so a
        # time never spans two row groups and a reader can split a batch between them), unless one
        # time fills a whole part. One Python step per row group.
        t = ts[piece]
        target = -(-len(piece) // n_parts)
        cuts, start = [], 0
        while len(piece) - start > max_rows:
            want = start + target
            cut = int(np.searchsorted(t, t[want], side="left")) if timed else want
            start = cut if cut > start else want
            cuts.append(start)
        yield from np.split(piece, cuts)


def group_table(cols: dict[str, np.ndarray], payload: pa.Array, g: PlannedGroup) -> pa.Table:
    """The format-2 row group for ``g``: the kind's columns gathered, the others null (no pandas)."""
    wanted = fmt.KIND_COLUMNS[g.kind]
    n = len(g.rows)
    arrays: list[pa.Array] = []
    for f in fmt.SCHEMA_V2:
        if f.name not in wanted:
            arrays.append(pa.nulls(n, f.type))
        elif f.name == "payload":
            arrays.append(payload.take(numpy_array(g.positions())))
        else:
            arrays.append(numpy_array(np.ascontiguousarray(cols[f.name][g.positions()])))
    return pa.Table.from_arrays(arrays, schema=fmt.SCHEMA_V2)


def numpy_array(values: np.ndarray) -> pa.Array:
    """A null-free numpy array as an Arrow array over the same buffer (``pa.array`` imports pandas)."""
    values = np.ascontiguousarray(values)
    return pa.Array.from_buffers(pa.from_numpy_dtype(values.dtype), len(values), [None, pa.py_buffer(values)])


__all__ = ["BLOCK_NS", "DAY_MARGIN_NS", "EVENT_KINDS", "OPEN_KINDS", "TIMELESS_KINDS", "Plan", "PlannedGroup",
           "definition_clock", "group_table", "kind_mask", "numpy_array", "plan", "plan_chunked", "plan_streams",
           "plausible_batches", "plausible_times", "session_day_ns"]
