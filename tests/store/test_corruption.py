"""Recordings under faults (issue 14 items 4 and 5): two recorders on one path, overwriting a finished
recording, damaged pages, truncation, impossible timestamps, and single bit flips anywhere in a
finalized Parquet file or an in-progress IPC journal.

The rule for damage: it is detected (``RecordingError`` or a warning naming it) or it changes
nothing that replay would deliver. Never a hang, never a silent change.
"""

from __future__ import annotations

import datetime as dt
import signal
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from zdte_tui.market.events import (
    NS_PER_SECOND,
    ChainDefinition,
    EventBatch,
    FeedStatus,
    OptionQuotes,
    OptionTrades,
    SpotTicks,
)
from zdte_tui.store.format import RecordingError
from zdte_tui.store.reader import Recording
from zdte_tui.store.writer import RecordingWriter

SESSION = dt.date(2025, 2, 20)
OPEN_NS = 1_740_061_800 * NS_PER_SECOND  # 09:30 ET
S = NS_PER_SECOND


def definition(sym: str = "SPY") -> ChainDefinition:
    return ChainDefinition(sym, SESSION, strikes=[100.0, 100.0, 101.0, 101.0],
                           is_call=[True, False, True, False], settled_oi=[1, 2, 3, 4])


def batch(i: int, sym: str = "SPY", n: int = 5) -> EventBatch:
    """Batch ``i``: ``n`` quotes, ``n`` trades and one spot tick inside ``(t, t + 1 s]``."""
    t = OPEN_NS + i * S
    k = np.arange(n)
    return EventBatch(sym, t, t + S, spot=SpotTicks([t + 1], [100.0 + i]),
                      quotes=OptionQuotes(t + 2 + k, k % 4, 1.0 + i + k, 1.5 + i + k, 10 + k, 11 + k),
                      trades=OptionTrades(t + 3 + k, k % 4, 1.25 + i + k, 1 + k, k % 3))


def write(path: Path, n_batches: int = 40, *, finalize: bool = True, row_group_rows: int | None = None,
          overwrite: bool = False, flush_every_batch: bool = False) -> RecordingWriter:
    w = RecordingWriter(path, source="sim", simulated=True, session_date=SESSION, symbols=("SPY", "QQQ"),
                        flush_seconds=0 if flush_every_batch else 3600, overwrite=overwrite)
    if row_group_rows:
        w.row_group_rows = row_group_rows
    w.write(definition("SPY"))
    w.write(definition("QQQ"))
    for i in range(n_batches):
        w.write(batch(i, "SPY"))
        w.write(batch(i, "QQQ"))
        if i == n_batches // 2:
            w.write(FeedStatus("gap", OPEN_NS + i * S + S, "SPY", "ws", "reconnected", 1))
    w.close(finalize=finalize)
    return w


def digest(rec: Recording) -> tuple:
    """Everything replay delivers, as comparable values."""
    m = rec.metadata
    out: list = [m.source, m.simulated, m.session_date, m.symbols, m.notes, m.extra,
                 sorted((k, d.strikes.tobytes(), d.is_call.tobytes(), d.settled_oi.tobytes(), str(d.expiry))
                        for k, d in rec.definitions.items())]
    for ev in rec.events(slice_seconds=30):
        if isinstance(ev, EventBatch):
            out.append((ev.underlying, ev.start_ns, ev.end_ns,
                        *(getattr(part, f).tobytes() for part in (ev.spot, ev.quotes, ev.trades)
                          for f in part.__dataclass_fields__)))
        else:
            out.append(repr(ev))
    return tuple(out)


@contextmanager
def time_limit(seconds: int):
    """Fail (instead of hanging) if the block runs longer than ``seconds``."""
    def on_alarm(signum, frame):
        raise TimeoutError(f"took more than {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


# --------------------------------------------------------------------------- item 4: one writer per file
def test_a_second_recorder_on_the_same_path_is_refused_and_the_first_keeps_its_data(tmp_path):
    path = tmp_path / "same.zdte"
    first = RecordingWriter(path, source="sim", simulated=True, session_date=SESSION, symbols=("SPY",))
    first.write(definition("SPY"))
    first.write(batch(0, "SPY"))

    with pytest.raises(RecordingError, match=r"same\.zdte: another recorder is writing this file"):
        RecordingWriter(path, source="sim", simulated=True, session_date=SESSION, symbols=("QQQ",), overwrite=True)
    first.write(batch(1, "SPY"))
    first.close()

    rec = Recording.open(path)
    assert rec.symbols == ("SPY",) and rec.metadata.symbols == ("SPY",)
    assert [e.start_ns for e in rec.events(slice_seconds=None) if isinstance(e, EventBatch)] == [OPEN_NS, OPEN_NS + S]


def test_an_existing_recording_is_refused_unless_overwrite_is_asked_for(tmp_path):
    path = tmp_path / "done.zdte"
    write(path, 3)
    before = path.read_bytes()

    with pytest.raises(RecordingError, match=r"done\.zdte: already exists.*--force"):
        RecordingWriter(path, source="sim", simulated=True, session_date=SESSION)
    unchanged = path.read_bytes()
    write(path, 5, overwrite=True)

    assert unchanged == before
    assert len([e for e in Recording.open(path).events(slice_seconds=None) if isinstance(e, EventBatch)]) == 10


def test_the_lock_is_released_when_the_recording_is_finalized(tmp_path):
    path = tmp_path / "r.zdte"
    write(path, 2)

    write(path, 2, overwrite=True)  # would raise if the first writer still held the file

    assert Recording.open(path).metadata.finalized


def test_record_cli_refuses_an_existing_out_file_with_a_one_line_error(tmp_path, capsys):
    from zdte_tui.cli import main

    path = tmp_path / "existing.zdte"
    path.write_bytes(b"finished recording")

    code = main(["record", "SPY", "--out", str(path), "--duration", "0.1"])

    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.startswith("zdte: error: ") and "already exists" in err and "--force" in err and "\n" not in err
    assert path.read_bytes() == b"finished recording"


# --------------------------------------------------------------------------- item 5: pages, truncation
def test_a_damaged_page_costs_its_row_group_only_and_is_reported(tmp_path):
    path = tmp_path / "r.zdte"
    write(path, 40, row_group_rows=100)
    whole = Recording.open(path)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10  # inside a column chunk, well past the footer copy

    path.write_bytes(bytes(data))
    rec = Recording.open(path)

    assert any("row groups are damaged or missing and were skipped" in w for w in rec.warnings)
    assert 0 < whole.n_rows - rec.n_rows <= 100


@pytest.mark.parametrize("keep_fraction", [0.99, 0.9, 0.6])
def test_a_truncated_parquet_file_salvages_every_row_group_before_the_cut(tmp_path, keep_fraction):
    import pyarrow.parquet as pq

    path = tmp_path / "r.zdte"
    write(path, 40, row_group_rows=64)
    meta = pq.read_metadata(path)
    size = path.stat().st_size
    cut = int(size * keep_fraction)
    intact_rows = sum(meta.row_group(i).num_rows for i in range(meta.num_row_groups)
                      if all(meta.row_group(i).column(c).file_offset <= cut and
                             meta.row_group(i).column(c).data_page_offset
                             + meta.row_group(i).column(c).total_compressed_size <= cut
                             for c in range(meta.num_columns)))

    path.write_bytes(path.read_bytes()[:cut])
    rec = Recording.open(path)

    assert rec.n_rows == intact_rows > 0
    assert any("reading with its copy" in w for w in rec.warnings)


def test_rows_stamped_outside_the_session_day_or_out_of_order_are_skipped_and_reported(tmp_path):
    path = tmp_path / "bad-times.zdte"
    good = [batch(i) for i in range(6)]
    spike = good[2].quotes.ts_ns.copy()
    spike[1] = 3_140_000_000 * S  # the year 2069
    dip = good[4].trades.ts_ns.copy()
    dip[3] = OPEN_NS - 3600 * S  # 08:30, before the rows around it
    good[2] = EventBatch("SPY", good[2].start_ns, good[2].end_ns, good[2].spot,
                         OptionQuotes(spike, *(getattr(good[2].quotes, f) for f in ("contract", "bid", "ask",
                                                                                      "bid_size", "ask_size"))),
                         good[2].trades)
    good[4] = EventBatch("SPY", good[4].start_ns, good[4].end_ns, good[4].spot, good[4].quotes,
                         OptionTrades(dip, *(getattr(good[4].trades, f) for f in ("contract", "price", "size",
                                                                                    "exchange"))))
    with RecordingWriter(path, source="sim", simulated=True, session_date=SESSION, symbols=("SPY",)) as w:
        w.write(definition())
        for b in good:
            w.write(b)

    with time_limit(30):
        rec = Recording.open(path)
        batches = [e for e in rec.events() if isinstance(e, EventBatch)]

    quotes = np.concatenate([b.quotes.ts_ns for b in batches])
    trades = np.concatenate([b.trades.ts_ns for b in batches])
    assert rec.skipped_rows == 2
    assert len(quotes) == 6 * 5 - 1 and len(trades) == 6 * 5 - 1
    assert np.all(np.diff(quotes) >= 0) and quotes.max() < OPEN_NS + 10 * S
    assert any("quote row(s) with a timestamp outside the session day" in w for w in rec.warnings)
    assert any("trade row(s)" in w for w in rec.warnings)


def test_slicing_a_recording_whose_batches_all_span_the_day_is_bounded(tmp_path):
    path = tmp_path / "wide.zdte"
    day_end = OPEN_NS + 6 * 3600 * S
    with RecordingWriter(path, source="sim", simulated=True, session_date=SESSION, symbols=("SPY",)) as w:
        w.write(definition())
        for i in range(2000):  # every batch claims (open, close]: 2,000 x 780 slices if expanded naively
            w.write(EventBatch("SPY", OPEN_NS, day_end, SpotTicks([OPEN_NS + i + 1], [100.0])))

    with time_limit(30):
        slices = [e for e in Recording.open(path).events() if isinstance(e, EventBatch)]

    assert len(slices) == 6 * 3600 // 30


# --------------------------------------------------------------------------- bit-flip fuzz
FLIPS = 250


def _flip_each(path: Path, original: bytes, rng: np.random.Generator, n: int):
    positions = rng.integers(0, len(original) * 8, size=n)
    for pos in positions.tolist():
        data = bytearray(original)
        data[pos // 8] ^= 1 << (pos % 8)
        path.write_bytes(bytes(data))
        yield pos


def _check_flip(path: Path, reference: tuple, reference_warnings: list[str], pos: int) -> str:
    with time_limit(20):
        try:
            rec = Recording.open(path)
            got = digest(rec)
        except RecordingError:
            return "error"
    if got == reference:
        return "same"
    new_warnings = [w for w in rec.warnings if w not in reference_warnings]
    assert new_warnings, f"bit {pos} (byte {pos // 8}) changed the replayed data without any warning"
    return "warned"


def test_a_single_bit_flip_in_a_finalized_recording_is_detected_or_harmless(tmp_path):
    src = tmp_path / "clean.zdte"
    write(src, 30, row_group_rows=120)
    original = src.read_bytes()
    reference = Recording.open(src)
    ref, ref_warnings = digest(reference), list(reference.warnings)
    flipped = tmp_path / "flipped.zdte"

    outcomes = [_check_flip(flipped, ref, ref_warnings, pos)
                for pos in _flip_each(flipped, original, np.random.default_rng(20261201), FLIPS)]

    assert len(outcomes) == FLIPS
    assert outcomes.count("error") + outcomes.count("warned") > 0  # most flips hit data and are caught


def test_a_single_bit_flip_in_an_unfinalized_journal_is_detected_or_harmless(tmp_path):
    src = tmp_path / "journal.zdte"
    write(src, 30, finalize=False, flush_every_batch=True)
    original = src.read_bytes()
    reference = Recording.open(src)
    ref, ref_warnings = digest(reference), list(reference.warnings)
    flipped = tmp_path / "flipped.zdte"

    outcomes = [_check_flip(flipped, ref, ref_warnings, pos)
                for pos in _flip_each(flipped, original, np.random.default_rng(20261202), FLIPS)]

    assert len(outcomes) == FLIPS
    assert outcomes.count("error") + outcomes.count("warned") > 0
