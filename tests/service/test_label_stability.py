"""Words on a simulated day hold for their documented times (docs/decision-layer.md, "Hysteresis").

A whole simulated SPY session replayed in 30 s slices through the FlowService, one snapshot after
each, like the screen sees it. Seed 4 is a day whose flow reading swings between amplifying and
dampening every few snapshots into the close (before the dwell, the flow label changed 123 times)."""

from __future__ import annotations

import datetime as dt

import pytest

from zdte_tui.engine.decision import FLOW_DWELL_MINUTES, SEVERITY_CALM_MINUTES


@pytest.fixture(scope="module")
def day_words(tmp_path_factory):
    from zdte_tui.commands import write_simulated_day
    from zdte_tui.market.events import EventBatch
    from zdte_tui.service import FlowService
    from zdte_tui.sources.replay import ReplaySource
    from zdte_tui.store.reader import Recording

    path = tmp_path_factory.mktemp("labels") / "day.parquet"
    write_simulated_day(path, ["SPY"], session_date=dt.date(2025, 6, 13), seed=4, scenario="auto")
    rec = Recording.open(path)
    svc = FlowService(ReplaySource(path, at=None, speed=None, recording=rec))
    words = []
    for ev in rec.events(None, None, 30):
        svc.apply(ev)
        if isinstance(ev, EventBatch):
            snap = svc.snapshot("SPY")
            if snap.get("body") is not None:
                words.append((snap["headline"]["minutes_to_close"], snap["flow_direction"]["label"],
                              snap["headline"]["trade_angle"], snap["headline"]["severity"],
                              snap["setup"]["primary"]["id"]))
    return words


def _runs(values, minutes):
    """[(value, minutes to close at the start of the run, at its end)] for consecutive equal values."""
    runs = []
    for v, m in zip(values, minutes):
        if runs and runs[-1][0] == v:
            runs[-1][2] = m
        else:
            runs.append([v, m, m])
    return runs


def test_every_flow_label_but_the_last_is_shown_for_at_least_the_dwell(day_words):
    minutes = [w[0] for w in day_words]
    runs = _runs([w[1] for w in day_words], minutes)
    assert len(day_words) > 700
    # a run ends when a new reading has held FLOW_DWELL_MINUTES: the run lasted at least that long
    for label, start, end in runs[1:-1]:
        assert start - end >= FLOW_DWELL_MINUTES - 0.5, (label, start, end)
    assert len(runs) <= 40


def test_severity_steps_down_within_an_angle_only_after_the_calm_time(day_words):
    rank = {"info": 0, "watch": 1, "alert": 2}
    runs = _runs([(w[2], w[3]) for w in day_words], [w[0] for w in day_words])
    for (prev, p_start, p_end), (cur, _s, _e) in zip(runs, runs[1:]):
        if prev[0] == cur[0] and rank[cur[1]] < rank[prev[1]]:
            assert p_start - p_end >= SEVERITY_CALM_MINUTES - 0.5, (prev, cur, p_start, p_end)
