"""ReplaySource: the recorded stream on a session clock, with seek/step/pause, and iter_all."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from tests.fakes import FakeWall as FakeTime
from zdte_tui.market.calendar import et_clock_to_ns
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
from zdte_tui.sources.replay import ReplaySource, iter_all
from zdte_tui.store.format import RecordingError
from zdte_tui.store.writer import write_recording

SESSION = dt.date(2025, 2, 20)
OPEN_NS = et_clock_to_ns(SESSION, "09:30")
S = NS_PER_SECOND
MINUTES = 20


def chain(underlying: str) -> ChainDefinition:
    return ChainDefinition(underlying, SESSION, strikes=[590.0, 590.0, 591.0, 591.0],
                           is_call=[True, False, True, False], settled_oi=[5, 6, 7, 8])


def make_recording(path, simulated: bool = True, symbols=("SPY", "QQQ")):
    """``MINUTES`` minutes of 5 s batches per symbol, an event every second, and one FeedStatus."""
    rng = np.random.default_rng(7)
    events: list = [chain(s) for s in symbols]
    for i in range(MINUTES * 12):
        t0 = OPEN_NS + i * 5 * S
        for s in symbols:
            ts = t0 + np.arange(1, 6) * S  # on whole seconds, some exactly on 30 s boundaries
            events.append(EventBatch(s, t0, t0 + 5 * S,
                                     spot=SpotTicks(ts, 590 + rng.random(5)),
                                     quotes=OptionQuotes(ts, rng.integers(0, 4, 5), rng.random(5),
                                                         rng.random(5) + 1, np.ones(5), np.ones(5)),
                                     trades=OptionTrades(ts[:2], rng.integers(0, 4, 2), rng.random(2),
                                                         np.ones(2), np.zeros(2))))
    events.append(FeedStatus("info", OPEN_NS + 65 * S, None, None, "hello"))
    write_recording(path, events, source="sim", simulated=simulated, session_date=SESSION, symbols=symbols)
    return events


def arrays(events, underlying="SPY"):
    bs = [e for e in events if isinstance(e, EventBatch) and e.underlying == underlying]
    return {
        "spot": np.concatenate([b.spot.price for b in bs]),
        "spot_ts": np.concatenate([b.spot.ts_ns for b in bs]),
        "bid": np.concatenate([b.quotes.bid for b in bs]),
        "trade_ts": np.concatenate([b.trades.ts_ns for b in bs]),
    }


def assert_same(a, b):
    for k in a:
        np.testing.assert_array_equal(a[k], b[k], err_msg=k)


def assert_30s_aligned(events):
    """Batches never straddle a chunk boundary (30 min: a multiple of the engine's 30 s sample step)."""
    from zdte_tui.sources.replay import CHUNK_SECONDS

    for e in events:
        if isinstance(e, EventBatch):
            assert e.start_ns < e.end_ns
            assert e.start_ns // (CHUNK_SECONDS * S) == (e.end_ns - 1) // (CHUNK_SECONDS * S)



async def take_until(agen, predicate, limit=10_000):
    out = []
    async for e in agen:
        out.append(e)
        if predicate(e) or len(out) >= limit:
            return out
    return out


@pytest.fixture
def recording(tmp_path):
    path = tmp_path / "day.zdte"
    return path, make_recording(path)


# ---------------------------------------------------------------- no clock

def test_iter_all_yields_definitions_then_30s_batches_with_everything_recorded(recording):
    path, events = recording
    out = list(iter_all(path))
    assert [type(e) for e in out[:2]] == [ChainDefinition, ChainDefinition]
    assert_30s_aligned(out)
    assert_same(arrays(out), arrays(events))
    assert_same(arrays(out, "QQQ"), arrays(events, "QQQ"))
    assert sum(isinstance(e, FeedStatus) for e in out) == 1


def test_source_describes_the_recording(recording):
    path, _ = recording
    src = ReplaySource(path, speed=None)
    assert (src.name, src.simulated, src.symbols, src.session_date) == ("replay", True, ("SPY", "QQQ"), SESSION)
    assert src.label == f"REPLAY day.zdte {SESSION.isoformat()}"


def test_unknown_symbol_is_an_error_naming_the_file_and_what_was_recorded(recording):
    path, _ = recording
    with pytest.raises(RecordingError, match=r"day\.zdte: no underlying IWM .*recorded: SPY, QQQ"):
        ReplaySource(path, symbols=["IWM"])


# ---------------------------------------------------------------- clocked

async def test_as_fast_as_possible_replays_exactly_what_iter_all_yields(recording):
    path, _ = recording
    src = ReplaySource(path, speed=None)
    out = [e async for e in src.events()]
    assert_30s_aligned(out)
    reference = list(iter_all(path))
    assert [(type(e).__name__, getattr(e, "underlying", None), getattr(e, "end_ns", None)) for e in out] == \
           [(type(e).__name__, getattr(e, "underlying", None), getattr(e, "end_ns", None)) for e in reference]
    assert_same(arrays(out), arrays(reference))


async def test_at_delivers_history_up_to_the_start_at_once_then_the_rest(recording):
    path, events = recording
    fake = FakeTime()
    src = ReplaySource(path, at="09:41", speed=None, symbols=["SPY"], time_fn=fake, sleep=fake.sleep)
    at_ns = et_clock_to_ns(SESSION, "09:41")
    assert src.clock.now_ns == at_ns
    out = [e async for e in src.events()]
    history_end = next(i for i, e in enumerate(out) if isinstance(e, EventBatch) and e.end_ns == at_ns)
    assert all(e.end_ns <= at_ns for e in out[:history_end + 1] if isinstance(e, EventBatch))
    assert not any(isinstance(e, ChainDefinition) for e in out[1:])
    assert {getattr(e, "underlying", "SPY") for e in out} <= {"SPY", None}
    assert_same(arrays(out), arrays(events))


async def test_paced_playback_delivers_only_up_to_the_session_clock(recording):
    path, _ = recording
    fake = FakeTime()
    src = ReplaySource(path, speed=10.0, time_fn=fake, sleep=fake.sleep, tick_seconds=0.5)
    agen = src.events()
    first = await take_until(agen, lambda e: isinstance(e, EventBatch))
    assert [type(e) for e in first[:2]] == [ChainDefinition, ChainDefinition]
    # Each wake-up is 0.5 wall s = 5 session s at speed 10; delivery never runs ahead of the clock.
    for _ in range(20):
        e = await agen.__anext__()
        if isinstance(e, EventBatch):
            assert e.end_ns <= src.clock.now_ns
            assert e.end_ns - e.start_ns <= 30 * S
    await src.aclose()
    assert src.clock.closed


async def test_step_while_paused_delivers_exactly_that_much_session_time(recording):
    path, _ = recording
    fake = FakeTime()
    src = ReplaySource(path, at="09:35", speed=1.0, time_fn=fake, sleep=fake.sleep, symbols=["SPY"])
    src.clock.pause()
    agen = src.events()
    at_ns = et_clock_to_ns(SESSION, "09:35")
    await take_until(agen, lambda e: isinstance(e, EventBatch) and e.end_ns == at_ns)
    src.clock.step(45)
    stepped = await take_until(agen, lambda e: isinstance(e, EventBatch) and e.end_ns == at_ns + 45 * S)
    # one batch (09:35:00, 09:35:45]: it crosses no 30-minute chunk boundary
    assert [(b.start_ns - at_ns, b.end_ns - at_ns) for b in stepped if isinstance(b, EventBatch)] == [(0, 45 * S)]
    await src.aclose()


async def test_forward_seek_yields_the_suffix_of_the_full_stream(recording):
    path, _ = recording
    fake = FakeTime()
    src = ReplaySource(path, speed=1.0, time_fn=fake, sleep=fake.sleep, symbols=["SPY"])
    src.clock.pause()
    agen = src.events()
    await take_until(agen, lambda e: isinstance(e, ChainDefinition))
    target = et_clock_to_ns(SESSION, "09:44")
    src.clock.seek(target)
    skipped = await take_until(agen, lambda e: isinstance(e, EventBatch) and e.end_ns == target)
    src.clock.resume()
    src.clock.set_speed(None)
    rest = [e async for e in agen]
    full = list(iter_all(path, symbols=["SPY"], slice_seconds=30))
    assert_same(arrays(skipped + rest), arrays(full))
    assert_same(arrays(rest), arrays([e for e in full if isinstance(e, EventBatch) and e.start_ns >= target]))


async def test_backward_seek_emits_a_reset_then_definitions_and_history_up_to_the_target(recording):
    path, _ = recording
    fake = FakeTime()
    src = ReplaySource(path, at="09:45", speed=1.0, time_fn=fake, sleep=fake.sleep, symbols=["SPY"])
    src.clock.pause()
    agen = src.events()
    at_ns = et_clock_to_ns(SESSION, "09:45")
    await take_until(agen, lambda e: isinstance(e, EventBatch) and e.end_ns == at_ns)
    target = et_clock_to_ns(SESSION, "09:32:10")
    src.clock.seek(target)

    replayed = await take_until(agen, lambda e: isinstance(e, EventBatch) and e.end_ns == target)

    assert isinstance(replayed[0], SessionReset) and replayed[0].ts_ns == target
    assert isinstance(replayed[1], ChainDefinition)
    full = list(iter_all(path, symbols=["SPY"], slice_seconds=30))
    full_arrays, replayed_arrays = arrays(full), arrays(replayed)
    upto = full_arrays["spot_ts"] <= target
    np.testing.assert_array_equal(replayed_arrays["spot_ts"], full_arrays["spot_ts"][upto])
    np.testing.assert_array_equal(replayed_arrays["spot"], full_arrays["spot"][upto])
    assert replayed[-1].end_ns == target and replayed[-1].spot.ts_ns.max() <= target
    # Playing on from the target gives the rest of the session, nothing twice.
    src.clock.resume()
    src.clock.set_speed(None)
    rest = [e async for e in agen]
    assert_same(arrays(replayed[1:] + rest), arrays(full))


async def test_hold_at_end_waits_for_a_seek_instead_of_finishing(recording):
    path, _ = recording
    src = ReplaySource(path, speed=None, symbols=["SPY"], hold_at_end=True)
    agen = src.events()
    last_end = src.end_ns
    await take_until(agen, lambda e: isinstance(e, EventBatch) and e.end_ns == last_end)
    src.clock.seek(OPEN_NS + 30 * S)
    again = await take_until(agen, lambda e: isinstance(e, EventBatch))
    assert isinstance(again[0], SessionReset)
    await src.aclose()
