"""The recording format: lossless round trip, deterministic bytes, 30 s slicing, metadata."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import zdte_tui
from zdte_tui.market.events import (
    NS_PER_SECOND,
    ChainDefinition,
    EventBatch,
    FeedStatus,
    OptionQuotes,
    OptionTrades,
    SessionReset,
    SpotTicks,
)
from zdte_tui.store.format import RecordingError
from zdte_tui.store.reader import Recording
from zdte_tui.store.writer import RecordingWriter, write_recording

SESSION = dt.date(2025, 2, 20)
OPEN_NS = 1_740_061_800 * NS_PER_SECOND  # 2025-02-20 09:30:00 ET
S = NS_PER_SECOND


def chain(underlying: str = "SPY", n_strikes: int = 3, base: float = 590.0) -> ChainDefinition:
    strikes = np.repeat(base + np.arange(n_strikes, dtype=float), 2)
    return ChainDefinition(underlying, SESSION, strikes=strikes, is_call=np.tile([True, False], n_strikes),
                           settled_oi=np.arange(2 * n_strikes) * 10, prev_close=base + 0.5,
                           occ_symbols=tuple(f"{underlying:<6}250220{'CP'[i % 2]}{int(k * 1000):08d}"
                                             for i, k in enumerate(strikes)))


def batch(underlying: str, start_ns: int, end_ns: int, seed: int, n_quotes: int = 5, n_trades: int = 3,
          n_contracts: int = 6) -> EventBatch:
    rng = np.random.default_rng(seed)

    def times(n: int) -> np.ndarray:
        return np.sort(rng.integers(start_ns + 1, end_ns + 1, n))

    bid = rng.random(n_quotes).round(2)
    bid[0] = np.nan  # a missing side survives the round trip
    return EventBatch(
        underlying, start_ns, end_ns,
        spot=SpotTicks(times(2), 590 + rng.random(2)),
        quotes=OptionQuotes(times(n_quotes), rng.integers(0, n_contracts, n_quotes), bid, bid + 0.05,
                            rng.integers(1, 50, n_quotes), rng.integers(1, 50, n_quotes)),
        trades=OptionTrades(times(n_trades), rng.integers(0, n_contracts, n_trades), rng.random(n_trades),
                            rng.integers(1, 20, n_trades), rng.integers(0, 20, n_trades)))


def session_events(n_batches: int = 12, step_s: int = 10, symbols=("SPY", "QQQ")) -> list:
    events: list = [chain(s) for s in symbols]
    for i in range(n_batches):
        for j, s in enumerate(symbols):
            events.append(batch(s, OPEN_NS + i * step_s * S, OPEN_NS + (i + 1) * step_s * S, seed=100 * i + j))
    return events


def concat(batches, underlying: str):
    mine = [b for b in batches if isinstance(b, EventBatch) and b.underlying == underlying]
    cat = lambda get: np.concatenate([get(b) for b in mine])  # noqa: E731
    return {
        "spot_ts": cat(lambda b: b.spot.ts_ns), "spot_px": cat(lambda b: b.spot.price),
        "q_ts": cat(lambda b: b.quotes.ts_ns), "q_c": cat(lambda b: b.quotes.contract),
        "bid": cat(lambda b: b.quotes.bid), "ask": cat(lambda b: b.quotes.ask),
        "bsz": cat(lambda b: b.quotes.bid_size), "asz": cat(lambda b: b.quotes.ask_size),
        "t_ts": cat(lambda b: b.trades.ts_ns), "t_c": cat(lambda b: b.trades.contract),
        "t_px": cat(lambda b: b.trades.price), "t_sz": cat(lambda b: b.trades.size),
        "t_ex": cat(lambda b: b.trades.exchange),
    }


def assert_same_arrays(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].dtype == b[key].dtype, key
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)


def assert_same_definition(a: ChainDefinition, b: ChainDefinition) -> None:
    assert (a.underlying, a.expiry, a.occ_symbols, a.multiplier, a.prev_close) == \
           (b.underlying, b.expiry, b.occ_symbols, b.multiplier, b.prev_close)
    for name in ("strikes", "is_call", "settled_oi"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert getattr(a, name).dtype == getattr(b, name).dtype


def write(path, events, **kw):
    kw = {"source": "sim", "simulated": True, "session_date": SESSION, "symbols": ("SPY", "QQQ"), **kw}
    return write_recording(path, events, **kw)


# ---------------------------------------------------------------- round trip

def test_round_trip_returns_identical_arrays_definitions_and_metadata(tmp_path):
    events = session_events()
    truth = {"SPY": {"customer_side": np.array([1, -1, 1], dtype=np.int8),
                     "dealer_book": np.arange(12.0).reshape(2, 6)}}
    path = write(tmp_path / "s.zdte", events, notes=["hand-built"], truth=truth)

    rec = Recording.open(path)

    assert rec.file_format == "parquet" and rec.warnings == []
    m = rec.metadata
    assert (m.source, m.simulated, m.session_date, m.symbols) == ("sim", True, SESSION, ("SPY", "QQQ"))
    assert (m.zdte_version, m.format_version, m.finalized, m.notes) == (zdte_tui.__version__, 2, True, ("hand-built",))
    for s in ("SPY", "QQQ"):
        assert_same_definition(rec.definitions[s], chain(s))
        assert_same_arrays(concat(rec.events(), s), concat(events, s))
    got_truth = rec.truth("SPY")
    assert got_truth.keys() == truth["SPY"].keys()
    for k, v in truth["SPY"].items():
        np.testing.assert_array_equal(got_truth[k], v)
        assert got_truth[k].dtype == v.dtype and got_truth[k].shape == v.shape
    assert rec.truth("QQQ") is None
    assert rec.time_range[0] == OPEN_NS and rec.time_range[1] == OPEN_NS + 120 * S


def test_truth_is_never_replayed_as_an_event(tmp_path):
    path = write(tmp_path / "s.zdte", session_events(2), truth={"SPY": {"side": np.ones(4)}})
    kinds = {type(e).__name__ for e in Recording.open(path).events()}
    assert kinds == {"ChainDefinition", "EventBatch"}


def test_parquet_metadata_holds_the_settled_oi_snapshot_and_is_json(tmp_path):
    path = write(tmp_path / "s.zdte", session_events(2), notes=["spot derived from put-call parity"])
    meta = pq.read_schema(path).metadata
    defs = json.loads(meta[b"zdte.definitions"])
    assert [d["underlying"] for d in defs] == ["SPY", "QQQ"]
    assert defs[0]["settled_oi"] == [0, 10, 20, 30, 40, 50]
    assert json.loads(meta[b"zdte.notes"]) == ["spot derived from put-call parity"]
    assert json.loads(meta[b"zdte.session_date"]) == "2025-02-20"


def test_same_events_give_the_same_file_bytes(tmp_path):
    events = session_events()
    a = write(tmp_path / "a.zdte", events).read_bytes()
    b = write(tmp_path / "b.zdte", events).read_bytes()
    assert a == b


def test_live_recording_with_flushes_finalizes_to_the_same_bytes_as_write_recording(tmp_path):
    events = session_events()
    ticks = iter(range(10**6))
    with RecordingWriter(tmp_path / "live.zdte", source="sim", simulated=True, session_date=SESSION,
                         symbols=("SPY", "QQQ"), flush_seconds=3, time_fn=lambda: next(ticks)) as w:
        for e in events:
            w.write(e)
    assert (tmp_path / "live.zdte").read_bytes() == write(tmp_path / "whole.zdte", events).read_bytes()


def test_unfinalized_stream_reads_back_the_same_events_with_a_warning(tmp_path):
    events = session_events()
    w = RecordingWriter(tmp_path / "s.zdte", source="sim", simulated=True, session_date=SESSION,
                        symbols=("SPY", "QQQ"), flush_seconds=0)
    for e in events:
        w.write(e)
    w.close(finalize=False)

    rec = Recording.open(tmp_path / "s.zdte")

    assert rec.file_format == "ipc_stream" and not rec.metadata.finalized
    assert any("not finalized" in msg for msg in rec.warnings)
    assert_same_arrays(concat(rec.events(), "SPY"), concat(events, "SPY"))


# ---------------------------------------------------------------- slicing

def test_slices_are_30s_aligned_half_open_and_clipped_to_what_was_observed(tmp_path):
    # Recorded batches of 10 s from 09:30:00 to 09:32:00 -> slices (09:30:00, 09:30:30], ...
    path = write(tmp_path / "s.zdte", session_events(12, symbols=("SPY",)), symbols=("SPY",))
    spans = [(b.start_ns - OPEN_NS, b.end_ns - OPEN_NS) for b in Recording.open(path).events()
             if isinstance(b, EventBatch)]
    assert spans == [(0, 30 * S), (30 * S, 60 * S), (60 * S, 90 * S), (90 * S, 120 * S)]


def test_an_event_exactly_on_a_30s_boundary_belongs_to_the_slice_ending_there(tmp_path):
    on_boundary = EventBatch("SPY", OPEN_NS, OPEN_NS + 60 * S,
                             spot=SpotTicks([OPEN_NS + 30 * S, OPEN_NS + 31 * S], [1.0, 2.0]))
    path = write(tmp_path / "s.zdte", [chain(), on_boundary], symbols=("SPY",))
    batches = [b for b in Recording.open(path).events() if isinstance(b, EventBatch)]
    assert [b.end_ns - OPEN_NS for b in batches] == [30 * S, 60 * S]
    assert batches[0].spot.price.tolist() == [1.0] and batches[1].spot.price.tolist() == [2.0]


def test_quiet_stretches_are_empty_batches_and_unrecorded_gaps_are_skipped(tmp_path):
    events = [chain(),
              EventBatch("SPY", OPEN_NS, OPEN_NS + 60 * S),  # observed, nothing happened
              EventBatch("SPY", OPEN_NS + 300 * S, OPEN_NS + 330 * S,  # recorder was down in between
                         spot=SpotTicks([OPEN_NS + 310 * S], [591.0]))]
    path = write(tmp_path / "s.zdte", events, symbols=("SPY",))
    batches = [b for b in Recording.open(path).events() if isinstance(b, EventBatch)]
    assert [(b.start_ns - OPEN_NS, b.end_ns - OPEN_NS, len(b.spot)) for b in batches] == [
        (0, 30 * S, 0), (30 * S, 60 * S, 0), (300 * S, 330 * S, 1)]


def test_slice_seconds_none_gives_back_the_recorded_batches(tmp_path):
    events = session_events(5, step_s=7)
    path = write(tmp_path / "s.zdte", events)
    got = [e for e in Recording.open(path).events(slice_seconds=None) if isinstance(e, EventBatch)]
    want = [e for e in events if isinstance(e, EventBatch)]
    assert [(b.underlying, b.start_ns, b.end_ns) for b in got] == [(b.underlying, b.start_ns, b.end_ns) for b in want]
    for g, w in zip(got, want):
        assert_same_arrays(concat([g], g.underlying), concat([w], w.underlying))


def test_a_recentered_definition_comes_before_the_batches_that_use_its_new_contracts(tmp_path):
    wider = chain("SPY", n_strikes=4)
    events = [chain("SPY"), batch("SPY", OPEN_NS, OPEN_NS + 45 * S, seed=1),
              wider, batch("SPY", OPEN_NS + 45 * S, OPEN_NS + 90 * S, seed=2, n_contracts=8)]
    path = write(tmp_path / "s.zdte", events, symbols=("SPY",))
    out = list(Recording.open(path).events())
    kinds = [(type(e).__name__, getattr(e, "end_ns", 0) - OPEN_NS) for e in out]
    assert kinds == [("ChainDefinition", -OPEN_NS), ("EventBatch", 30 * S), ("ChainDefinition", -OPEN_NS),
                     ("EventBatch", 60 * S), ("EventBatch", 90 * S)]
    assert out[2].n_contracts == 8


def test_feed_status_follows_the_batches_ending_at_or_before_it(tmp_path):
    gap = FeedStatus("gap_start", OPEN_NS + 40 * S, "SPY", "equity_feed", "stale", count=2)
    events = [chain(), batch("SPY", OPEN_NS, OPEN_NS + 90 * S, seed=1), gap]
    path = write(tmp_path / "s.zdte", events, symbols=("SPY",))
    out = list(Recording.open(path).events())
    assert [(type(e).__name__, getattr(e, "end_ns", 0) - OPEN_NS) for e in out] == [
        ("ChainDefinition", -OPEN_NS), ("EventBatch", 30 * S), ("FeedStatus", -OPEN_NS), ("EventBatch", 60 * S),
        ("EventBatch", 90 * S)]
    assert out[2] == gap


def test_a_recorded_session_reset_keeps_only_the_events_after_it(tmp_path):
    first = batch("SPY", OPEN_NS, OPEN_NS + 60 * S, seed=1)
    again = batch("SPY", OPEN_NS, OPEN_NS + 30 * S, seed=2)
    events = [chain(), first, SessionReset(OPEN_NS), chain(), again]
    path = write(tmp_path / "s.zdte", events, symbols=("SPY",))
    rec = Recording.open(path)
    assert any("SessionReset" in w for w in rec.warnings)
    assert_same_arrays(concat(rec.events(), "SPY"), concat([again], "SPY"))


@settings(max_examples=25, deadline=None)
@given(n_batches=st.integers(1, 15), step_s=st.integers(1, 95), split_s=st.integers(0, 1500),
       width_s=st.sampled_from([1, 7, 30, 60]))
def test_any_window_split_and_slice_width_partitions_the_events_exactly(tmp_path_factory, n_batches, step_s,
                                                                         split_s, width_s):
    events = session_events(n_batches, step_s=step_s)
    path = write(tmp_path_factory.mktemp("h") / "s.zdte", events)
    rec = Recording.open(path)
    split = OPEN_NS + split_s * S
    head = list(rec.events(None, split, width_s))
    tail = list(rec.events(split, None, width_s, definitions_in_force=False))
    for s in ("SPY", "QQQ"):
        assert_same_arrays(concat(head + tail, s), concat(events, s))
    for b in head + tail:
        if isinstance(b, EventBatch):
            assert b.start_ns < b.end_ns
            assert b.start_ns // (width_s * S) == (b.end_ns - 1) // (width_s * S)  # never crosses a boundary
    assert all(isinstance(e, ChainDefinition) for e in head[:2])
    assert not any(isinstance(e, ChainDefinition) for e in tail)


def test_writing_to_a_closed_recording_is_an_error_naming_the_file(tmp_path):
    w = RecordingWriter(tmp_path / "s.zdte", source="sim", simulated=True, session_date=SESSION)
    w.close()
    with pytest.raises(RecordingError, match="s.zdte: recording is already closed"):
        w.write(chain())


def test_vol_context_round_trips_and_is_in_force_when_replay_starts_later(tmp_path):
    from zdte_tui.market.events import VolContext

    vc = VolContext("SPY", OPEN_NS + 5 * S, term_expiry=dt.date(2025, 2, 27), term_atm_iv=0.18, vix=17.0,
                    origin="test")
    events = session_events(n_batches=6)
    write(tmp_path / "v.zdte", events[:3] + [vc] + events[3:])
    rec = Recording.open(tmp_path / "v.zdte")
    assert [e for e in rec.events() if isinstance(e, VolContext)] == [vc]
    later = [e for e in rec.events(OPEN_NS + 30 * S, None) if isinstance(e, VolContext)]
    assert [(e.term_atm_iv, e.vix, e.term_expiry) for e in later] == [(0.18, 17.0, dt.date(2025, 2, 27))]
