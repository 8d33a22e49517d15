"""Finalizing streams the journal: the same file as regrouping the whole day, in bounded memory.

``RecordingWriter.bounded_finalize = False`` is the finalize that reads the whole journal back
(the behaviour before the bounded one); it stays callable so these tests can compare the two.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from zdte_tui.market.events import EventBatch, FeedStatus, OptionQuotes, OptionTrades, SessionReset, SpotTicks
from zdte_tui.store import layout, writer
from zdte_tui.store.reader import Recording
from zdte_tui.store.writer import RecordingWriter

from .test_store import OPEN_NS, SESSION, S, batch, chain

SYMBOLS = ("SPY", "QQQ", "SPX")


def day_events(n_batches: int, step_s: int, seed: int = 3, damaged: bool = True, reset_at: int | None = None) -> list:
    """A multi-symbol day: definitions, batches of three underlyings, statuses, a note, optionally
    out-of-day / out-of-order timestamps (dropped by the planner) and a SessionReset."""
    rng = np.random.default_rng(seed)
    events: list = [chain(s, base=590.0 + 10 * j) for j, s in enumerate(SYMBOLS)]
    for i in range(n_batches):
        if reset_at is not None and i == reset_at:
            events.append(SessionReset(OPEN_NS + i * step_s * S))
            events.extend(chain(s, base=591.0 + 10 * j) for j, s in enumerate(SYMBOLS))
        for j, s in enumerate(SYMBOLS):
            b = batch(s, OPEN_NS + i * step_s * S, OPEN_NS + (i + 1) * step_s * S, seed=1000 * i + j,
                      n_quotes=int(rng.integers(1, 40)), n_trades=int(rng.integers(0, 9)))
            if damaged and i % 7 == 3:  # a flipped bit: one quote stamped in 2069, one trade at 03:12
                q = b.quotes
                ts = q.ts_ns.copy()
                ts[len(ts) // 2] += 1 << 60
                b = EventBatch(s, b.start_ns, b.end_ns, b.spot,
                               OptionQuotes(ts, q.contract, q.bid, q.ask, q.bid_size, q.ask_size), b.trades)
            events.append(b)
        if i % 11 == 5:
            events.append(FeedStatus("info", OPEN_NS + (i + 1) * step_s * S, underlying="QQQ", feed="sim",
                                     message="quiet", count=i))
    return events


def record(path, events, *, bounded: bool, row_group_rows: int, chunk_rows: int | None = None,
           live: bool = True, flush_every: int = 5) -> RecordingWriter:
    """Record ``events`` (live: a journal flushed every ``flush_every`` events) and finalize."""
    w = RecordingWriter(path, source="sim", simulated=True, session_date=SESSION, symbols=SYMBOLS,
                        notes=("a note",), _stream=live, _bounded=bounded, _spill_chunk_rows=chunk_rows or 1 << 16)
    w.row_group_rows = row_group_rows
    for i, e in enumerate(events):
        w.write(e)
        if live and i % flush_every == flush_every - 1:
            w.flush()
    w.write_truth("SPY", {"side": np.arange(7, dtype=np.int8)})
    w.close()
    return w


@pytest.mark.parametrize("live", [True, False], ids=["journal", "write_recording"])
@pytest.mark.parametrize("reset_at", [None, 9], ids=["no reset", "reset"])
def test_the_bounded_finalize_writes_the_same_bytes_as_the_whole_day_finalize(tmp_path, monkeypatch, live,
                                                                               reset_at):
    monkeypatch.setattr(writer, "WRITE_RECORDING_FLUSH_ROWS", 50)  # write_recording hands rows over as it goes
    events = day_events(n_batches=40, step_s=97, reset_at=reset_at)  # 65 minutes: three 30-minute blocks
    old = tmp_path / "old.zdte"
    new = tmp_path / "new.zdte"
    record(old, events, bounded=False, row_group_rows=50, live=live)
    record(new, events, bounded=True, row_group_rows=50, chunk_rows=16, live=live)

    assert new.read_bytes() == old.read_bytes()
    rec = Recording.open(new)
    assert rec.skipped_rows > 0  # the damaged rows were planned away, identically
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.zdte", "old.zdte"]  # no spill or body left


@pytest.mark.timeout(900)  # ~95 s on an idle 2-core machine: many 1-row row groups; a loaded one took 5-8 min
@settings(max_examples=15, deadline=None)
@given(n_batches=st.integers(0, 30), step_s=st.integers(1, 200), row_group_rows=st.integers(1, 120),
       chunk_rows=st.integers(1, 64), flush_every=st.integers(1, 9), seed=st.integers(0, 99))
def test_any_day_row_group_size_and_chunk_size_give_the_same_bytes(tmp_path_factory, n_batches, step_s,
                                                                     row_group_rows, chunk_rows, flush_every, seed):
    d = tmp_path_factory.mktemp("bounded")
    events = day_events(n_batches, step_s, seed=seed, reset_at=n_batches // 2 if seed % 3 == 0 else None)
    record(d / "old.zdte", events, bounded=False, row_group_rows=row_group_rows, flush_every=flush_every)
    record(d / "new.zdte", events, bounded=True, row_group_rows=row_group_rows, chunk_rows=chunk_rows,
           flush_every=flush_every)
    assert (d / "new.zdte").read_bytes() == (d / "old.zdte").read_bytes()


def steady_journal(path, hours: float) -> RecordingWriter:
    """``hours`` of 30 s batches of SPY at a steady rate, recorded live and finalized (bounded)."""
    rng = np.random.default_rng(11)
    w = RecordingWriter(path, source="sim", simulated=True, session_date=SESSION, symbols=("SPY",))
    w.row_group_rows = 500
    w.write(chain("SPY"))
    for i in range(int(hours * 120)):
        lo, hi = OPEN_NS + i * 30 * S, OPEN_NS + (i + 1) * 30 * S
        t = np.sort(rng.integers(lo + 1, hi + 1, 40))
        w.write(EventBatch("SPY", lo, hi, SpotTicks(t[:4], 590 + rng.random(4)),
                           OptionQuotes(t, rng.integers(0, 6, 40), rng.random(40), 1 + rng.random(40),
                                        rng.integers(1, 9, 40), rng.integers(1, 9, 40)),
                           OptionTrades(t[:5], rng.integers(0, 6, 5), rng.random(5), rng.integers(1, 9, 5),
                                        rng.integers(0, 9, 5))))
        w.flush()  # one journal batch per recorded batch, as a live recorder flushing every second
    w.close()
    return w


def test_the_rows_the_finalizer_holds_at_once_do_not_grow_with_the_length_of_the_day(tmp_path):
    short = steady_journal(tmp_path / "short.zdte", hours=1.5)
    long = steady_journal(tmp_path / "long.zdte", hours=6.5)
    rows_long = Recording.open(tmp_path / "long.zdte").metadata.layout["row_groups"]
    assert sum(g[2] for g in rows_long) > 6.5 * 120 * 49  # the long day really holds every row

    # A row group (<= 500 rows), its chunks' rows (< 2 x 65,536 incl. the one being read) and one
    # journal batch per stream while spilling: the same bound for both days.
    assert long.finalize_max_resident_rows == short.finalize_max_resident_rows
    assert long.finalize_max_resident_rows <= 500 + 2 * (1 << 16) + 500


def test_an_undamaged_day_gives_the_same_bytes_planned_block_by_block(tmp_path):
    # No damaged timestamps: every event stream is planned as it is read back (layout.plan_chunked)
    events = day_events(n_batches=40, step_s=97, damaged=False)  # 65 minutes: three 30-minute blocks
    record(tmp_path / "old.zdte", events, bounded=False, row_group_rows=50)
    record(tmp_path / "new.zdte", events, bounded=True, row_group_rows=50, chunk_rows=16)
    assert (tmp_path / "new.zdte").read_bytes() == (tmp_path / "old.zdte").read_bytes()


def _chunked(ts: np.ndarray, aux: np.ndarray, cuts: list[int], calls: list[int]):
    def chunks():
        calls.append(1)
        edges = [0, *sorted(c % (len(ts) + 1) for c in cuts), len(ts)]
        for a, b in zip(edges, edges[1:]):
            yield ts[a:b], aux[a:b]
    return chunks


def _same_plan(a: layout.Plan, b: layout.Plan) -> bool:
    return ([g.index_entry for g in a.groups] == [g.index_entry for g in b.groups]
            and all(np.array_equal(g.positions(), h.positions()) for g, h in zip(a.groups, b.groups))
            and (a.skipped, a.skipped_rows, a.resets) == (b.skipped, b.skipped_rows, b.resets))


@settings(max_examples=60, deadline=None)
@given(sizes=st.lists(st.integers(0, 400), min_size=1, max_size=4), gaps=st.integers(1, 40 * 60),
       row_group_rows=st.integers(1, 150), cuts=st.lists(st.integers(0, 10_000), max_size=12),
       damage=st.sampled_from([None, "order", "day"]), seed=st.integers(0, 99))
def test_planning_chunk_by_chunk_is_planning_the_whole_stream(sizes, gaps, row_group_rows, cuts, damage, seed):
    rng = np.random.default_rng(seed)
    streams = []
    for j, n in enumerate(sizes):  # quotes / trades / spot of two underlyings, times in order, repeats included
        t = OPEN_NS + np.cumsum(rng.integers(0, gaps, n)) * S // 10
        if damage == "order" and n > 2:
            t[n // 2] -= 3600 * S
        elif damage == "day" and n > 2:
            t[-1] += 1 << 60
        streams.append((layout.EVENT_KINDS[j % 3], j // 3, t.astype(np.int64)))
    names = {0: "SPY", 1: "QQQ"}
    whole = layout.plan_streams(((k, s, t, t) for k, s, t in streams), names, SESSION, row_group_rows, 0)
    calls: list[int] = []
    chunked = layout.plan_chunked(((k, s, _chunked(t, t, cuts, calls)) for k, s, t in streams), names, SESSION,
                                  row_group_rows, 0)
    assert _same_plan(chunked, whole)
    if damage is None:  # read once, planned as consecutive ranges: no index of the day's rows is held
        assert len(calls) == len(streams)
        assert all(isinstance(g.rows, range) for g in chunked.groups)
