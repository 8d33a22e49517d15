"""Crash safety: killed recorders, torn streams and corrupt files replay what is intact."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from zdte_tui.market.events import NS_PER_SECOND, ChainDefinition, EventBatch, OptionQuotes, SpotTicks
from zdte_tui.sources.base import EventSource
from zdte_tui.sources.recorder import record
from zdte_tui.store.format import RecordingError
from zdte_tui.store.reader import Recording
from zdte_tui.store.writer import RecordingWriter

REPO = Path(__file__).resolve().parents[2]
SESSION = dt.date(2025, 2, 20)
OPEN_NS = 1_740_061_800 * NS_PER_SECOND
S = NS_PER_SECOND
POLL_TIMEOUT_S = 60.0


def numbered_batch(i: int) -> EventBatch:
    """Batch ``i`` of a deterministic stream: one spot tick and one quote carrying ``i``."""
    t = OPEN_NS + i * S
    return EventBatch("SPY", t, t + S, spot=SpotTicks([t + 1], [100.0 + i]),
                      quotes=OptionQuotes([t + 2], [i % 4], [float(i)], [i + 0.5], [i], [i + 1]))


def definition() -> ChainDefinition:
    return ChainDefinition("SPY", SESSION, strikes=[100.0, 100.0, 101.0, 101.0],
                           is_call=[True, False, True, False], settled_oi=[1, 2, 3, 4])


def assert_is_the_stream_prefix(rec: Recording) -> int:
    """The recording holds exactly batches 0..n-1 of the numbered stream; returns n."""
    batches = [e for e in rec.events(slice_seconds=None) if isinstance(e, EventBatch)]
    for i, b in enumerate(batches):
        want = numbered_batch(i)
        assert (b.start_ns, b.end_ns) == (want.start_ns, want.end_ns)
        np.testing.assert_array_equal(b.spot.price, want.spot.price)
        np.testing.assert_array_equal(b.quotes.bid, want.quotes.bid)
        np.testing.assert_array_equal(b.quotes.contract, want.quotes.contract)
    return len(batches)


def write_stream(path: Path, n_batches: int) -> None:
    """An unfinalized recording: one flush (one IPC batch) per event batch."""
    w = RecordingWriter(path, source="sim", simulated=True, session_date=SESSION, symbols=("SPY",),
                        flush_seconds=0)
    w.write(definition())
    for i in range(n_batches):
        w.write(numbered_batch(i))
    w.close(finalize=False)


# ---------------------------------------------------------------- torn / corrupt files

@pytest.mark.parametrize("cut_bytes", [1, 8, 9, 100, 2000])
def test_a_torn_stream_replays_every_complete_batch_with_a_warning(tmp_path, cut_bytes):
    path = tmp_path / "torn.zdte"
    write_stream(path, 20)
    whole = path.read_bytes()
    path.write_bytes(whole[:-cut_bytes])

    rec = Recording.open(path)

    n = assert_is_the_stream_prefix(rec)
    if cut_bytes <= 8:  # only the 8-byte end-of-stream marker is damaged: every batch is intact
        assert n == 20
    else:
        assert 10 <= n < 20
        assert any(w.startswith(f"truncated after {rec.n_rows:,} rows: replaying what is intact")
                   for w in rec.warnings)


def test_a_stream_cut_inside_its_schema_is_an_error_naming_the_file(tmp_path):
    path = tmp_path / "stub.zdte"
    write_stream(path, 3)
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(RecordingError, match=r"stub\.zdte: truncated before the end of its schema"):
        Recording.open(path)


def test_a_parquet_file_cut_inside_its_footer_replays_every_row_from_the_footer_copy(tmp_path):
    # Finalizing is atomic (temp file + rename); a torn Parquet file comes from a broken copy.
    finalized = tmp_path / "copy.zdte"
    with RecordingWriter(finalized, source="sim", simulated=True, session_date=SESSION, symbols=("SPY",)) as w:
        w.write(definition())
        w.write(numbered_batch(0))
    finalized.write_bytes(finalized.read_bytes()[:-50])

    rec = Recording.open(finalized)

    assert assert_is_the_stream_prefix(rec) == 1
    assert any("footer is missing or damaged" in w for w in rec.warnings)


def test_a_parquet_file_cut_before_its_footer_copy_ends_is_an_error_naming_the_file(tmp_path):
    finalized = tmp_path / "copy.zdte"
    with RecordingWriter(finalized, source="sim", simulated=True, session_date=SESSION, symbols=("SPY",)) as w:
        w.write(definition())
        w.write(numbered_batch(0))
    finalized.write_bytes(finalized.read_bytes()[:40])

    with pytest.raises(RecordingError, match=r"copy\.zdte: corrupt or truncated Parquet file"):
        Recording.open(finalized)


@pytest.mark.parametrize("content, problem", [
    (b"", "empty file"),
    (b"hello, world", "unknown magic bytes"),
])
def test_files_that_are_not_recordings_are_errors_naming_the_file(tmp_path, content, problem):
    path = tmp_path / "junk.zdte"
    path.write_bytes(content)
    with pytest.raises(RecordingError, match=rf"junk\.zdte: .*{problem}"):
        Recording.open(path)


def test_a_missing_file_and_a_foreign_parquet_file_are_errors_naming_the_file(tmp_path):
    with pytest.raises(RecordingError, match=r"nope\.zdte: no such file"):
        Recording.open(tmp_path / "nope.zdte")
    foreign = tmp_path / "other.parquet"
    pq.write_table(pa.table({"x": [1, 2]}), foreign)
    with pytest.raises(RecordingError, match=r"other\.parquet: not a zdte recording"):
        Recording.open(foreign)


# ---------------------------------------------------------------- killed recorder

RECORDER_SCRIPT = textwrap.dedent("""
    import asyncio, sys
    sys.path.insert(0, {tests!r})
    from store.test_crash_safety import NumberedSource
    from zdte_tui.sources.recorder import record
    asyncio.run(record(NumberedSource(delay_s=0.002), sys.argv[1], flush_seconds=0.02))
""")


class NumberedSource(EventSource):
    """The numbered stream, one batch per ``delay_s`` (forever, or ``limit`` batches)."""

    name = "numbered"
    simulated = True
    symbols = ("SPY",)
    session_date = SESSION

    def __init__(self, delay_s: float = 0.0, limit: int | None = None,
                 delivered: asyncio.Event | None = None, notify_after: int = 0) -> None:
        self.delay_s, self.limit = delay_s, limit
        self.delivered, self.notify_after = delivered, notify_after

    async def events(self):
        yield definition()
        i = 0
        while self.limit is None or i < self.limit:
            yield numbered_batch(i)
            i += 1
            if self.delivered is not None and i >= self.notify_after:
                self.delivered.set()
            await asyncio.sleep(self.delay_s)


def spawn_recorder(path: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    script = RECORDER_SCRIPT.format(tests=str(REPO / "tests"))
    return subprocess.Popen([sys.executable, "-c", script, str(path)], env=env, cwd=REPO,
                            stderr=subprocess.PIPE)


def wait_for_flushed_batches(path: Path, proc: subprocess.Popen, n: int) -> int:
    """Poll the growing file until the reader sees ``n`` flushed batches; returns how many."""
    deadline = time.monotonic() + POLL_TIMEOUT_S
    last_size = -1
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode()
        size = path.stat().st_size if path.exists() else 0
        if size != last_size and size > 0:
            last_size = size
            try:
                seen = assert_is_the_stream_prefix(Recording.open(path))
            except RecordingError:
                seen = 0
            if seen >= n:
                return seen
        time.sleep(0.005)
    raise AssertionError(f"recorder did not flush {n} batches within {POLL_TIMEOUT_S} s")


def test_sigkill_leaves_a_file_that_replays_up_to_the_last_flush(tmp_path):
    path = tmp_path / "killed.zdte"
    proc = spawn_recorder(path)
    try:
        seen_before_kill = wait_for_flushed_batches(path, proc, 10)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    rec = Recording.open(path)

    assert rec.file_format == "ipc_stream"
    assert any("not finalized" in w for w in rec.warnings)
    assert assert_is_the_stream_prefix(rec) >= seen_before_kill
    assert rec.definitions["SPY"].n_contracts == 4


def test_sigterm_finalizes_the_recording_to_parquet(tmp_path):
    path = tmp_path / "stopped.zdte"
    proc = spawn_recorder(path)
    try:
        seen = wait_for_flushed_batches(path, proc, 5)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=POLL_TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr.read().decode()

    rec = Recording.open(path)

    assert rec.file_format == "parquet" and rec.metadata.finalized and rec.warnings == []
    assert assert_is_the_stream_prefix(rec) >= seen


# ---------------------------------------------------------------- recorder in-process

async def test_record_consumes_a_source_to_its_end_and_finalizes(tmp_path):
    summary = await record(NumberedSource(limit=30), tmp_path / "r.zdte", flush_seconds=0.01,
                           handle_signals=False)
    assert (summary.stopped_by, summary.batches, summary.events) == ("exhausted", 30, 31)
    assert (summary.first_ns, summary.last_ns) == (OPEN_NS, OPEN_NS + 30 * S)
    rec = Recording.open(summary.path)
    assert rec.metadata.finalized and rec.metadata.source == "numbered" and rec.metadata.simulated
    assert rec.metadata.notes == ("recorded from numbered",)
    assert assert_is_the_stream_prefix(rec) == 30


async def test_cancelling_the_recorder_still_finalizes_what_it_has(tmp_path):
    delivered = asyncio.Event()
    source = NumberedSource(delay_s=0, delivered=delivered, notify_after=50)
    task = asyncio.create_task(record(source, tmp_path / "c.zdte", handle_signals=False))
    await delivered.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    rec = Recording.open(tmp_path / "c.zdte")
    assert rec.file_format == "parquet"
    assert assert_is_the_stream_prefix(rec) >= 50
