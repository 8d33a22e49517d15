"""Format 2 (grouped for the reader) and format 1 (one long table): both replay, and multi-symbol
recordings replay without a spurious ``batch_before_definition``."""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zdte_tui.engine.flow_engine import FlowEngine
from zdte_tui.market.calendar import session_bounds_ns
from zdte_tui.market.events import ChainDefinition, EventBatch
from zdte_tui.sources.replay import iter_all
from zdte_tui.store import format as fmt
from zdte_tui.store import layout
from zdte_tui.store.reader import Recording

from .test_store import OPEN_NS, SESSION, S, assert_same_arrays, batch, chain, concat, session_events, write

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "store"
V1_FILE = FIXTURES / "v1_spy_qqq.zdte"


def simulator_order(n_batches: int = 6, step_s: int = 10) -> list:
    """SPY defined, SPY's first batch, then QQQ defined: the order the simulator emits."""
    events: list = [chain("SPY")]
    for i in range(n_batches):
        for j, s in enumerate(("SPY", "QQQ")):
            events.append(batch(s, OPEN_NS + i * step_s * S, OPEN_NS + (i + 1) * step_s * S, seed=100 * i + j))
            if i == 0 and s == "SPY":
                events.append(chain("QQQ", base=520.0))
    return events


def replay_digest(rec: Recording) -> list:
    out: list = []
    for e in rec.events():
        if isinstance(e, EventBatch):
            crc = 0
            for part in (e.spot, e.quotes, e.trades):
                for f in part.__dataclass_fields__:
                    crc = zlib.crc32(getattr(part, f).tobytes(), crc)
            out.append(["EventBatch", e.underlying, e.start_ns, e.end_ns, len(e.spot), len(e.quotes),
                        len(e.trades), crc])
        else:
            out.append([type(e).__name__, e.underlying])
    return out


# ---------------------------------------------------------------- format 1 still replays
def test_a_format_1_file_replays_what_the_format_1_reader_replayed():
    rec = Recording.open(V1_FILE)
    got, want = replay_digest(rec), json.loads((FIXTURES / "v1_spy_qqq.events.json").read_text())

    assert rec.metadata.format_version == 1 and rec.warnings == []
    # The same batches, statuses and vol contexts in the same order; only QQQ's definition moved:
    # the format-1 writer stamped it with SPY's clock (09:30:10), it now replays at QQQ's (0).
    assert [e for e in got if e[0] != "ChainDefinition"] == [e for e in want if e[0] != "ChainDefinition"]
    assert want[:3] == [["ChainDefinition", "SPY"], ["VolContext", "SPY"], ["ChainDefinition", "QQQ"]]
    assert got[:3] == [["ChainDefinition", "SPY"], ["ChainDefinition", "QQQ"], ["VolContext", "SPY"]]
    np.testing.assert_array_equal(rec.truth("SPY")["customer_side"], np.array([1, -1, 1], dtype=np.int8))


def test_a_format_1_file_rewritten_as_format_2_replays_the_same_events(tmp_path):
    old = Recording.open(V1_FILE)
    path = write(tmp_path / "v2.zdte", old.events(slice_seconds=None), truth={"SPY": old.truth("SPY")},
                 notes=list(old.notes))

    new = Recording.open(path)

    assert new.metadata.format_version == fmt.FORMAT_VERSION == 2
    assert replay_digest(new) == replay_digest(old)


# ---------------------------------------------------------------- definitions of a second underlying
def test_a_definition_is_stamped_with_its_own_underlyings_clock(tmp_path):
    # SPY's first batch ends at 09:30:10; QQQ has no batch yet when it is defined: its clock is 0.
    path = write(tmp_path / "s.zdte", simulator_order())
    rec = Recording.open(path)
    assert [(t, d.underlying) for t, _, d in rec._definition_rows] == [(0, "SPY"), (0, "QQQ")]


@pytest.mark.parametrize("source", ["format 2", "format 1 fixture"])
@pytest.mark.parametrize("slice_seconds", [None, 30, 1800])
def test_each_underlyings_definition_comes_before_its_first_batch(tmp_path, source, slice_seconds):
    path = write(tmp_path / "s.zdte", simulator_order()) if source == "format 2" else V1_FILE
    seen: set[str] = set()
    for e in Recording.open(path).events(slice_seconds=slice_seconds):
        if isinstance(e, ChainDefinition):
            seen.add(e.underlying)
        elif isinstance(e, EventBatch):
            assert e.underlying in seen, f"{e.underlying} batch ending {e.end_ns} before its definition"


@pytest.mark.parametrize("source", ["format 2", "format 1 fixture"])
def test_a_multi_symbol_replay_counts_no_batch_before_definition(tmp_path, source):
    path = write(tmp_path / "s.zdte", simulator_order()) if source == "format 2" else V1_FILE
    engine = FlowEngine(session_bounds=session_bounds_ns)
    for e in iter_all(path):
        engine.apply(e)
    assert "batch_before_definition" not in engine.malformed_by_reason
    assert set(engine.books) == {"SPY", "QQQ"}


# ---------------------------------------------------------------- the format-2 layout
def test_every_row_group_holds_one_underlying_and_kind_and_the_footer_indexes_it(tmp_path):
    path = write(tmp_path / "s.zdte", session_events(n_batches=12))
    meta = pq.read_metadata(path)
    index = json.loads(meta.metadata[b"zdte.row_groups"])

    assert len(index) == meta.num_row_groups
    assert [e[2] for e in index] == [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]
    assert "kind" not in meta.schema.names and "sym" not in meta.schema.names
    kinds = [e[1] for e in index]
    # names, notes, definitions and batch bounds first, events next, (no truth here)
    first_event = min(i for i, k in enumerate(kinds) if k in layout.EVENT_KINDS)
    assert all(k in layout.OPEN_KINDS for k in kinds[:first_event])
    assert all(k in layout.EVENT_KINDS for k in kinds[first_event:])
    by_stream = {(e[0], e[1]): e[2] for e in index}
    assert by_stream[(0, fmt.KIND_QUOTE)] == 12 * 5 and by_stream[(1, fmt.KIND_TRADE)] == 12 * 3
    assert by_stream[(0, fmt.KIND_CLOCK)] == 12


def test_a_row_group_decodes_only_its_kinds_columns_and_the_others_are_null(tmp_path):
    path = write(tmp_path / "s.zdte", session_events(n_batches=3))
    pf = pq.ParquetFile(path)
    index = json.loads(pf.metadata.metadata[b"zdte.row_groups"])
    i = next(i for i, e in enumerate(index) if e[1] == fmt.KIND_TRADE)
    group = pf.read_row_group(i)
    for name in group.column_names:
        used = name in fmt.KIND_COLUMNS[fmt.KIND_TRADE]
        assert group.column(name).null_count == (0 if used else group.num_rows), name


@settings(max_examples=20, deadline=None)
@given(n_batches=st.integers(1, 40), step_s=st.integers(30, 400), max_rows=st.integers(1, 50))
def test_event_row_groups_never_straddle_a_30_minute_block_and_respect_the_row_limit(tmp_path_factory, n_batches,
                                                                                     step_s, max_rows):
    from zdte_tui.store.writer import RecordingWriter

    events = session_events(n_batches, step_s=step_s)
    path = tmp_path_factory.mktemp("b") / "s.zdte"
    with RecordingWriter(path, source="sim", simulated=True, session_date=SESSION, symbols=("SPY", "QQQ")) as w:
        w.row_group_rows = max_rows
        for e in events:
            w.write(e)
    index = json.loads(pq.read_metadata(path).metadata[b"zdte.row_groups"])
    for _sym, kind, n, first, last in index:
        assert n <= max_rows
        if kind in layout.EVENT_KINDS:
            assert (first - 1) // layout.BLOCK_NS == (last - 1) // layout.BLOCK_NS
    rec = Recording.open(path)
    for s in ("SPY", "QQQ"):
        assert_same_arrays(concat(rec.events(), s), concat(events, s))


def test_a_newer_format_version_is_refused_with_a_clear_error(tmp_path):
    from zdte_tui.store.format import RecordingError, RecordingMetadata

    raw = RecordingMetadata(source="sim", simulated=True, session_date=SESSION, symbols=("SPY",),
                            zdte_version="9", format_version=fmt.FORMAT_VERSION + 1).to_arrow()
    with pytest.raises(RecordingError, match=r"f\.zdte: recording format version 3 is newer than this zdte reads"):
        RecordingMetadata.from_arrow(raw, tmp_path / "f.zdte")


def test_a_block_is_cut_into_row_groups_where_the_time_changes():
    # 10 rows at 5 distinct times, at most 4 rows per row group: cuts fall between times.
    ts = layout.BLOCK_NS * 1000 + np.repeat([1, 2, 3, 4, 5], 2).astype(np.int64)
    parts = [ts[p].tolist() for p in layout._cut(np.arange(10), ts, timed=True, max_rows=4)]
    assert [len(p) for p in parts] == [4, 4, 2]
    assert all(a[-1] < b[0] for a, b in zip(parts, parts[1:]))


def test_one_time_with_more_rows_than_a_row_group_is_still_cut_at_the_limit():
    ts = np.full(10, layout.BLOCK_NS * 1000 + 7, dtype=np.int64)
    parts = list(layout._cut(np.arange(10), ts, timed=True, max_rows=4))
    assert [len(p) for p in parts] == [4, 4, 2]
