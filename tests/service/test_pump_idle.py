"""The state at ``--at`` holds every event stamped at ``--at``: the statuses and vol contexts a
recording stamps exactly there come after the batch reaching it (which makes the service ready), so
a one-shot query also waits for the pump to be idle (``SourcePump.wait_idle``) before it answers or
caches the state."""

from __future__ import annotations

import datetime as dt
import json

from zdte_tui import cli
from zdte_tui.market.calendar import et_clock_to_ns
from zdte_tui.market.events import EventBatch, FeedStatus, VolContext
from zdte_tui.service import FlowService
from zdte_tui.sources.replay import ReplaySource
from zdte_tui.store.writer import write_recording

from .conftest import SESSION, build_session


def _recording(tmp_path, hhmm="10:30"):
    """A 09:30-10:30 recording with a vol context and a feed error stamped exactly at ``hhmm``."""
    t = et_clock_to_ns(SESSION, hhmm)
    events = build_session(minutes=60, trades_per_slice=20)
    cut = next(i for i, e in enumerate(events) if isinstance(e, EventBatch) and e.end_ns == t) + 1
    at_t = [VolContext("SPY", t, term_expiry=SESSION + dt.timedelta(days=7), term_atm_iv=0.31, origin="test"),
            FeedStatus("error", t, "SPY", "test", f"a feed hiccup at {hhmm}")]
    return write_recording(tmp_path / "day.parquet", events[:cut] + at_t + events[cut:], source="sim",
                           simulated=True, session_date=SESSION, symbols=["SPY"])


def test_after_wait_idle_the_events_stamped_at_the_start_time_are_in_the_engine(tmp_path):
    path = _recording(tmp_path, "10:00")
    for _ in range(5):  # the pump thread and the caller race differently each time: always in
        source = ReplaySource(path, at="10:00", speed=1.0, hold_at_end=True)
        source.clock.pause()
        source.clock.seek(source.at_ns)
        svc = FlowService(source)
        svc.start()
        try:
            assert svc.wait_ready(60) and svc.wait_idle(60)
            with svc._lock:
                assert svc.engine.vol_context["SPY"].term_atm_iv == 0.31
                assert svc.engine.errors == ["a feed hiccup at 10:00"]
                assert svc.engine.clock_ns == source.at_ns  # and nothing after
        finally:
            svc.stop()


def test_wait_idle_returns_at_once_when_the_source_has_finished(tmp_path):
    path = _recording(tmp_path)
    svc = FlowService(ReplaySource(path, speed=None))
    svc.start()
    try:
        assert svc.wait_ready(60) and svc.wait_idle(60)
        assert svc.wait_idle(60)  # finished: idle
    finally:
        svc.stop()


def test_a_query_at_the_time_of_a_vol_context_shows_it_cached_or_not(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    path = _recording(tmp_path)
    argv = ["snapshot", "SPY", "--source", f"replay:{path}", "--at", "10:30"]
    outs = []
    for extra in ([], [], ["--no-cache"]):  # played and cached, read from the cache, played
        assert cli.main([*argv, *extra]) == 0
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1] == outs[2]
    vc = json.loads(outs[0])["vol_context"]
    assert vc["seven_dte_atm_iv"] == 0.31, vc
