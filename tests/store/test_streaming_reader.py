"""Format 2 is read as the replay advances: bounded decoded rows, zero-copy batches, no pandas."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from zdte_tui.market.events import EventBatch, OptionQuotes, OptionTrades, SpotTicks
from zdte_tui.sources.replay import CHUNK_SECONDS
from zdte_tui.store import layout
from zdte_tui.store.reader import RESIDENT_GROUPS, Recording
from zdte_tui.store.writer import RecordingWriter

from .test_store import OPEN_NS, SESSION, S, assert_same_arrays, chain, concat, session_events, write

REPO = Path(__file__).resolve().parents[2]
QUOTES_PER_BATCH, TRADES_PER_BATCH, SPOT_PER_BATCH = 40, 8, 6
ROW_GROUP_ROWS = 1000


def steady_day(path: Path, hours: float, row_group_rows: int = ROW_GROUP_ROWS) -> Path:
    """``hours`` of 30 s batches at a steady rate (the same rate for every length of day)."""
    rng = np.random.default_rng(7)
    with RecordingWriter(path, source="sim", simulated=True, session_date=SESSION, symbols=("SPY",)) as w:
        w.row_group_rows = row_group_rows
        w.write(chain("SPY"))
        for i in range(int(hours * 120)):
            lo, hi = OPEN_NS + i * 30 * S, OPEN_NS + (i + 1) * 30 * S

            def times(n: int, lo: int = lo, hi: int = hi) -> np.ndarray:
                return np.sort(rng.integers(lo + 1, hi + 1, n))

            w.write(EventBatch("SPY", lo, hi, SpotTicks(times(SPOT_PER_BATCH), 590 + rng.random(SPOT_PER_BATCH)),
                               OptionQuotes(times(QUOTES_PER_BATCH), rng.integers(0, 6, QUOTES_PER_BATCH),
                                            rng.random(QUOTES_PER_BATCH), 1 + rng.random(QUOTES_PER_BATCH),
                                            rng.integers(1, 9, QUOTES_PER_BATCH), rng.integers(1, 9, QUOTES_PER_BATCH)),
                               OptionTrades(times(TRADES_PER_BATCH), rng.integers(0, 6, TRADES_PER_BATCH),
                                            rng.random(TRADES_PER_BATCH), rng.integers(1, 9, TRADES_PER_BATCH),
                                            rng.integers(0, 9, TRADES_PER_BATCH))))
    return path


def replay(rec: Recording, slice_seconds: float | None = CHUNK_SECONDS) -> int:
    return sum(len(e.quotes) for e in rec.events(slice_seconds=slice_seconds) if isinstance(e, EventBatch))


def test_decoded_rows_held_at_once_do_not_grow_with_the_length_of_the_day(tmp_path):
    short = Recording.open(steady_day(tmp_path / "short.zdte", hours=1.5))
    long = Recording.open(steady_day(tmp_path / "long.zdte", hours=6.5))

    assert short.peak_resident_rows == long.peak_resident_rows == 0  # opening decodes no event rows
    assert replay(short) == 1.5 * 120 * QUOTES_PER_BATCH and replay(long) == 6.5 * 120 * QUOTES_PER_BATCH

    # One 30-minute block per stream at a time: 60 batches of quotes (2,400 rows), trades (480), spot (360).
    block_rows = 60 * (QUOTES_PER_BATCH + TRADES_PER_BATCH + SPOT_PER_BATCH)
    assert long.peak_resident_rows == short.peak_resident_rows <= block_rows + 3 * RESIDENT_GROUPS * ROW_GROUP_ROWS
    assert long.resident_rows <= 3 * RESIDENT_GROUPS * ROW_GROUP_ROWS  # what is left after the replay


def test_a_replay_in_30_s_slices_keeps_at_most_two_row_groups_per_stream(tmp_path):
    rec = Recording.open(steady_day(tmp_path / "day.zdte", hours=6.5, row_group_rows=300))
    replay(rec, slice_seconds=30)
    assert rec.peak_resident_rows <= 3 * RESIDENT_GROUPS * 300


def test_a_replay_in_30_minute_batches_decodes_one_row_group_per_stream_at_a_time(tmp_path):
    # A 30-minute block of quotes is 60 x 40 = 2,400 rows in 8 row groups of 300. The read window
    # is planned from the timestamps alone; a group's other columns are decoded when the first
    # batch taking rows from it is yielded, and the groups before it are dropped then.
    rec = Recording.open(steady_day(tmp_path / "day.zdte", hours=6.5, row_group_rows=300))
    assert replay(rec) == 6.5 * 120 * QUOTES_PER_BATCH
    assert rec.peak_resident_rows <= 3 * RESIDENT_GROUPS * 300 < 60 * QUOTES_PER_BATCH


def test_a_forward_replay_decodes_each_event_row_group_once(tmp_path):
    path = steady_day(tmp_path / "day.zdte", hours=3)
    rec = Recording.open(path)
    opened = rec.groups_decoded
    replay(rec)
    event_groups = sum(1 for e in rec.metadata.layout["row_groups"] if e[1] in layout.EVENT_KINDS)
    assert rec.groups_decoded - opened == event_groups


def _owner(a: np.ndarray) -> object:
    while isinstance(a.base, np.ndarray):
        a = a.base
    return a.base


@pytest.mark.parametrize("slice_seconds, row_group_rows, n_batches", [
    (CHUNK_SECONDS, 10_000, 4),  # one row group per 30-minute block: one batch per block
    (CHUNK_SECONDS, 500, None),  # several per block: a block's batch is cut where each group ends
    (30, 500, None),
])
def test_batches_are_views_of_the_decoded_arrow_buffers(tmp_path, slice_seconds, row_group_rows, n_batches):
    rec = Recording.open(steady_day(tmp_path / "day.zdte", hours=2, row_group_rows=row_group_rows))
    batches = [e for e in rec.events(slice_seconds=slice_seconds) if isinstance(e, EventBatch)]
    assert n_batches is None or len(batches) == n_batches
    assert sum(len(b.quotes) for b in batches) == 2 * 120 * QUOTES_PER_BATCH
    for b in batches:
        assert b.start_ns // (slice_seconds * S) == (b.end_ns - 1) // (slice_seconds * S)
        for part in (b.spot, b.quotes, b.trades):
            for name in part.__dataclass_fields__:
                assert isinstance(_owner(getattr(part, name)), pa.Buffer), name


@pytest.mark.parametrize("slice_seconds", [None, 7, 30, 1800, 3600])
def test_any_slice_width_replays_every_row_across_row_group_edges(tmp_path, slice_seconds):
    events = session_events(n_batches=40, step_s=97)
    path = tmp_path / "s.zdte"
    with RecordingWriter(path, source="sim", simulated=True, session_date=SESSION, symbols=("SPY", "QQQ")) as w:
        w.row_group_rows = 17
        for e in events:
            w.write(e)
    rec = Recording.open(path)
    got = list(rec.events(slice_seconds=slice_seconds))
    for s in ("SPY", "QQQ"):
        assert_same_arrays(concat(got, s), concat(events, s))
    ends = [(e.underlying, e.end_ns) for e in got if isinstance(e, EventBatch)]
    assert [e for _, e in ends] == sorted(e for _, e in ends)


def test_replaying_a_recording_never_imports_pandas(tmp_path):
    path = write(tmp_path / "s.zdte", session_events(n_batches=12, symbols=("SPY",)), symbols=("SPY",))
    script = textwrap.dedent("""
        import sys
        from zdte_tui.cli import main
        code = main(["replay", sys.argv[1], "--headless"])
        print("pandas" in sys.modules, code)
    """)
    env = {**os.environ, "PYTHONPATH": str(REPO), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    # the first run on a cold cache builds the session calendar once from exchange_calendars (pandas,
    # docs: zdte_tui/market/calendar.py); that is start-up, not the replay path, so warm it first
    runs = [subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, cwd=REPO,
                           env=env, check=True) for _ in range(2)]
    assert runs[-1].stdout.strip().splitlines()[-1] == "False 0", runs[-1].stderr


def test_a_row_group_that_fails_to_decode_mid_replay_is_reported_and_its_rows_skipped(tmp_path, monkeypatch):
    from zdte_tui.store import reader
    from zdte_tui.store.format import KIND_QUOTE

    rec = Recording.open(steady_day(tmp_path / "day.zdte", hours=2, row_group_rows=10_000))
    index = rec.metadata.layout["row_groups"]
    broken = [i for i, e in enumerate(index) if e[1] == KIND_QUOTE][1]  # the second 30 minutes of quotes
    real_read = reader._GroupReader.read

    def read(self, i, kind, columns=None):
        if i == broken:
            self.recording._lose_group(i, "a damaged page header (stub)")
            return None
        return real_read(self, i, kind, columns)

    monkeypatch.setattr(reader._GroupReader, "read", read)
    rows_at_open = rec.n_rows

    quotes = replay(rec)

    assert quotes == (4 - 1) * 60 * QUOTES_PER_BATCH
    assert rec.skipped_rows == 60 * QUOTES_PER_BATCH and rec.n_rows == rows_at_open - 60 * QUOTES_PER_BATCH
    assert any("1 of" in w and "a damaged page header (stub)" in w for w in rec.warnings)


def test_whole_session_arrays_leave_no_row_groups_decoded(tmp_path):
    rec = Recording.open(steady_day(tmp_path / "day.zdte", hours=2, row_group_rows=500))
    assert len(rec.underlyings["SPY"].quotes) == 2 * 120 * QUOTES_PER_BATCH
    assert rec.resident_rows == 0
