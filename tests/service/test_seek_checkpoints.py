"""Backward seeks resume from an engine checkpoint (issue 13: "backward seeks re-ingest the whole
day"): the service keeps a copy of the engine every few session minutes, a seek back restores the
newest one at or before the target and re-ingests only what follows, and the answers are the same
as a straight play to the target."""

from __future__ import annotations

import asyncio
import datetime as dt

import numpy as np
import pytest

from zdte_tui.engine.flow_engine import TradeLog
from zdte_tui.market.calendar import et_clock_to_ns, session_bounds_ns
from zdte_tui.market.events import NS_PER_SECOND, EventBatch, SessionReset
from zdte_tui.service import FlowService
from zdte_tui.sources.replay import ReplaySource
from zdte_tui.sources.sim import SimSource
from zdte_tui.store.writer import write_recording

from .conftest import SESSION, build_session


class Fed:
    """Feeds a source's events into a service on the test's own event loop, one at a time, so the
    test decides exactly how far the source plays (no threads, no sleeps)."""

    def __init__(self, service: FlowService) -> None:
        self.service = service
        self.stream = service.source.events()
        self.seen: list[object] = []

    async def until(self, done) -> None:
        while not done():
            event = await self.stream.__anext__()
            self.seen.append(event)
            self.service.apply(event)

    async def to(self, t_ns: int) -> None:
        await self.until(lambda: self.service.engine.clock_ns >= t_ns)

    async def seek_back(self, t_ns: int) -> None:
        start = len(self.seen)
        self.service.source.clock.seek(t_ns)
        await self.until(lambda: any(isinstance(e, SessionReset) for e in self.seen[start:])
                         and self.service.engine.clock_ns >= t_ns)


def _answers(service: FlowService) -> dict:
    return {"snapshot": service.snapshot("SPY"), "series": service.series("SPY", "30s", 390),
            "heatmap": service.heatmap("SPY", "gex", "raw", "1m", 390), "signals": service.signals("SPY", limit=500),
            "hedge": service.hedge_flow("SPY", "all", "1m", 390)}


def same_up_to_rounding(a, b, rel: float = 1e-9) -> bool:
    """Equal, except floats within ``rel``: a forward seek cuts the events into other batches, which
    changes the order of float sums (differences ~1e-14 relative; the same as without checkpoints)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_up_to_rounding(a[k], b[k], rel) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_up_to_rounding(x, y, rel) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float):
        return a == pytest.approx(b, rel=rel, abs=1e-9)
    return a == b


def paused(source):
    """``source`` with its clock paused exactly at its start time (a playing clock would have moved
    a few microseconds since the source was built)."""
    start = source.clock.now_ns
    source.clock.pause()
    source.clock.seek(start - start % NS_PER_SECOND)
    return source


def _straight(source) -> dict:
    """The answers of a service that played ``source`` from the open straight to its start time."""
    paused(source)
    service = FlowService(source)
    fed = Fed(service)
    asyncio.run(fed.to(source.clock.now_ns))
    return _answers(service)


def _played_then_seeked_back(path, play_to: str = "11:20", seek_to: str = "10:47") -> FlowService:
    """A service on a replay of ``path`` played from the open to ``play_to``, then seeked back to
    ``seek_to`` (ET clock times)."""
    service = FlowService(paused(ReplaySource(path, at=play_to, speed=1.0, hold_at_end=True)))
    fed = Fed(service)

    async def play():
        await fed.to(et_clock_to_ns(SESSION, play_to))
        await fed.seek_back(et_clock_to_ns(SESSION, seek_to))

    asyncio.run(play())
    return service


@pytest.fixture(scope="module")
def recording(tmp_path_factory):
    path = tmp_path_factory.mktemp("seek") / "day.parquet"
    return write_recording(path, build_session(minutes=120, trades_per_slice=100), source="sim", simulated=True,
                           session_date=SESSION, symbols=["SPY"])  # 09:30-11:30


def test_a_backward_seek_in_a_replay_restores_a_checkpoint_and_answers_like_a_straight_play(recording):
    open_ns, _ = session_bounds_ns(SESSION)
    source = paused(ReplaySource(recording, at="11:20", speed=1.0, hold_at_end=True))
    service = FlowService(source)  # the default: a checkpoint every 60 minutes of session time
    fed = Fed(service)
    at = [et_clock_to_ns(SESSION, hhmm) for hhmm in ("10:00", "11:00")]

    async def play():
        await fed.to(et_clock_to_ns(SESSION, "11:20"))
        # the history up to 11:20 arrives in 30-minute chunks: a checkpoint at the first chunk end of each hour
        assert service.checkpoints.times == at
        after = len(fed.seen)
        await fed.seek_back(et_clock_to_ns(SESSION, "10:47"))
        return fed.seen[after:]

    replayed = asyncio.run(play())

    # resumed from the 10:00 checkpoint: a SessionReset naming it, then only (10:00, 10:47]
    assert replayed[0] == SessionReset(ts_ns=et_clock_to_ns(SESSION, "10:47"), resume_ns=at[0])
    batches = [e for e in replayed if isinstance(e, EventBatch)]
    assert batches and min(b.start_ns for b in batches) == at[0] > open_ns
    assert service.seek_restores == 1
    assert service.checkpoints.times == at[:1]  # the later one is dropped (retaken as the play passes)
    assert _answers(service) == _straight(ReplaySource(recording, at="10:47", speed=1.0))


def test_seeking_back_twice_and_forward_again_still_matches_a_straight_play(recording):
    source = paused(ReplaySource(recording, at="11:20", speed=1.0, hold_at_end=True))
    service = FlowService(source)
    fed = Fed(service)

    async def play():
        await fed.to(et_clock_to_ns(SESSION, "11:20"))
        await fed.seek_back(et_clock_to_ns(SESSION, "11:05"))
        await fed.seek_back(et_clock_to_ns(SESSION, "10:05"))
        source.clock.seek(et_clock_to_ns(SESSION, "11:10"))  # forward again over the dropped checkpoints
        await fed.to(et_clock_to_ns(SESSION, "11:10"))

    asyncio.run(play())

    assert service.seek_restores == 2
    assert service.checkpoints.times == [et_clock_to_ns(SESSION, hhmm) for hhmm in ("10:00", "11:00")]
    assert same_up_to_rounding(_answers(service), _straight(ReplaySource(recording, at="11:10", speed=1.0)))


def test_a_trade_log_compacted_between_checkpoints_restores_to_the_same_signals(recording, monkeypatch):
    # the engine's trade log drops prints no signal can use every COMPACT_ROWS prints; a checkpoint freezes
    # the rows before it, so a restore truncates back to exactly the checkpoint's prints
    monkeypatch.setattr(TradeLog, "COMPACT_ROWS", 50)
    service = _played_then_seeked_back(recording)
    log = service.engine.books["SPY"].log
    assert service.seek_restores == 1 and log.n < log.appended  # restored, and the log was compacted
    assert _answers(service) == _straight(ReplaySource(recording, at="10:47", speed=1.0))


def test_a_seek_before_the_first_checkpoint_starts_over_from_the_open(recording):
    source = paused(ReplaySource(recording, at="10:20", speed=1.0, hold_at_end=True))
    service = FlowService(source)
    fed = Fed(service)

    async def play():
        await fed.to(et_clock_to_ns(SESSION, "10:20"))
        after = len(fed.seen)
        await fed.seek_back(et_clock_to_ns(SESSION, "09:45"))
        return fed.seen[after:]

    replayed = asyncio.run(play())

    assert replayed[0] == SessionReset(ts_ns=et_clock_to_ns(SESSION, "09:45"), resume_ns=None)
    assert service.seek_restores == 0  # the old checkpoints went with the reset; the re-ingest takes new ones
    # the re-ingest stands aligned at 09:45: that checkpoint is due, taken with the first event after
    # 09:45 (or when the source next asks for a resume point), so it also holds anything stamped at 09:45
    assert service.checkpoints.times == [] and service.checkpoints.due == et_clock_to_ns(SESSION, "09:45")
    assert _answers(service) == _straight(ReplaySource(recording, at="09:45", speed=1.0))


def test_a_source_that_will_not_be_seeked_gets_no_checkpoints(recording):
    # zdte replay --headless plays once to the end: no engine copies (~13 MB each on a real-scale
    # SPX day), and the same answers as a play that keeps them
    once = FlowService(ReplaySource(recording, speed=None, seekable=False)).run_to_end()
    kept = FlowService(ReplaySource(recording, speed=None)).run_to_end()
    assert once.checkpoints.times == [] and once.source.resume_points is None
    assert len(kept.checkpoints.times) == 2  # hourly: 10:00 and 11:00 in this 09:30-11:30 recording
    assert _answers(once) == _answers(kept)


def test_the_simulator_seeks_back_from_a_checkpoint_too():
    day = dt.date(2026, 11, 20)

    def sim(at: str) -> SimSource:
        return SimSource(["SPY"], session_date=day, seed=7, scenario="pin", at=at, speed=1.0, linger=True)

    source = paused(sim("10:40"))
    service = FlowService(source)  # the default: a checkpoint every 60 minutes
    fed = Fed(service)
    target = et_clock_to_ns(day, "10:10")

    async def play():
        await fed.to(et_clock_to_ns(day, "10:40"))
        after = len(fed.seen)
        await fed.seek_back(target)
        return fed.seen[after:]

    replayed = asyncio.run(play())

    assert replayed[0] == SessionReset(ts_ns=target, resume_ns=et_clock_to_ns(day, "10:00"))
    assert np.all([e.start_ns >= et_clock_to_ns(day, "10:00") for e in replayed if isinstance(e, EventBatch)])
    assert _answers(service) == _straight(sim("10:10"))


def test_events_stamped_exactly_at_a_checkpoint_are_not_lost_when_a_seek_resumes_from_it(tmp_path):
    """A recording with a vol context, a feed error and an extended chain definition stamped
    exactly at 10:00 ET, the time of the first hourly checkpoint: they come after the batch ending
    at 10:00, so a checkpoint taken right after that batch misses them, and a seek resuming from it
    replays only (10:00, T]. The checkpoint is taken just before the first event after 10:00, so
    it holds them, and the resumed answers equal a straight play."""
    from zdte_tui.market.events import ChainDefinition, FeedStatus, VolContext

    ten = et_clock_to_ns(SESSION, "10:00")
    events = build_session(minutes=120, trades_per_slice=50)
    chain = events[0]
    wider = ChainDefinition("SPY", SESSION, np.append(chain.strikes, [700.0, 700.0]),
                            np.append(chain.is_call, [True, False]), np.append(chain.settled_oi, [5, 7]),
                            prev_close=chain.prev_close)
    at_ten = [VolContext("SPY", ten, term_expiry=SESSION + dt.timedelta(days=7), term_atm_iv=0.31, origin="test"),
              FeedStatus("error", ten, "SPY", "test", "a feed hiccup at 10:00"), wider]
    cut = next(i for i, e in enumerate(events) if isinstance(e, EventBatch) and e.end_ns == ten) + 1
    path = write_recording(tmp_path / "day.parquet", events[:cut] + at_ten + events[cut:], source="sim",
                           simulated=True, session_date=SESSION, symbols=["SPY"])
    service = _played_then_seeked_back(path)

    assert service.seek_restores == 1  # resumed from the 10:00 checkpoint
    assert service.engine.vol_context["SPY"].term_atm_iv == 0.31
    assert service.engine.errors == ["a feed hiccup at 10:00"]
    assert service.engine.books["SPY"].chain.n_contracts == wider.n_contracts
    assert _answers(service) == _straight(ReplaySource(path, at="10:47", speed=1.0))
