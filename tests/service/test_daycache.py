"""The day cache behind one-shot queries (issue 13: "each CLI query takes ~5 s because it
re-simulates the morning"): a query at a time already asked reads the engine state at that time,
and answers exactly as the source played up to it does."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from zdte_tui import cli, commands
from zdte_tui.engine.params import EngineParams
from zdte_tui.service import daycache
from zdte_tui.service.daycache import DayCache, DaySpec, FrozenDay, service_at
from zdte_tui.sources.sim import SimSource

DAY = dt.date(2026, 11, 20)


def _sim(at):
    return SimSource(["SPY"], session_date=DAY, seed=7, scenario="pin", at=at, speed=1.0)


def _answers(svc) -> dict:
    return {"snapshot": svc.snapshot("SPY"), "signals": svc.signals("SPY", limit=500),
            "series": svc.series("SPY", "1m", 390), "heatmap": svc.heatmap("SPY", "gex", "raw", "1m", 390)}


def _spec(**kw) -> DaySpec:
    args = {"symbols": ["SPY"], "session_date": DAY, "seed": 7, "scenario": "pin", "engine": EngineParams()} | kw
    return DaySpec.sim(**args)


def test_a_second_query_at_the_same_time_reads_the_cached_state_and_answers_the_same(tmp_path):
    cache = DayCache(_spec(), root=tmp_path)
    first = service_at(cache, "10:05", _sim, settings=None)
    played = _answers(first)
    first.stop()
    assert [p.name for p in cache.dir.glob("engine-*.pkl")] == [f"engine-{first.engine.clock_ns}.pkl"]

    def must_not_play(_at):
        raise AssertionError("the cached state should answer without playing the source")

    second = service_at(DayCache(_spec(), root=tmp_path), "10:05", must_not_play, settings=None)
    try:
        assert isinstance(second.source, FrozenDay) and second.events_ingested == 0
        assert second.status()["simulated"] and second.status()["label"] == first.status()["label"]
        assert _answers(second) == played
    finally:
        second.stop()


@pytest.mark.parametrize("change", [{"seed": 8}, {"scenario": "trend"}, {"session_date": dt.date(2026, 11, 19)},
                                    {"symbols": ["SPY", "QQQ"]}, {"levels": {"SPY": 600.0}},
                                    {"engine": EngineParams(dealer_convention="customer_flow")}])
def test_everything_that_determines_the_day_is_in_the_key(change):
    assert _spec(**change).key() != _spec().key()
    assert _spec().key() == _spec().key()


def test_a_recording_is_keyed_by_its_path_size_and_modification_time(tmp_path):
    path = tmp_path / "day.parquet"
    path.write_bytes(b"x" * 10)
    before = DaySpec.replay(path, None, EngineParams()).key()
    path.write_bytes(b"y" * 11)
    assert DaySpec.replay(path, None, EngineParams()).key() != before


def test_a_new_version_drops_the_other_versions_directories(tmp_path, monkeypatch):
    old = DayCache(_spec(), root=tmp_path)
    (old.dir / "engine-1.pkl").write_bytes(b"old")
    monkeypatch.setattr(daycache, "__version__", "999.0")
    new = DayCache(_spec(), root=tmp_path)
    assert new.dir.exists() and not old.version_dir.exists()


def test_a_damaged_state_is_deleted_and_the_day_played_again(tmp_path):
    cache = DayCache(_spec(), root=tmp_path)
    svc = service_at(cache, "10:05", _sim, settings=None)
    expected = svc.snapshot("SPY")
    svc.stop()
    (state,) = cache.dir.glob("engine-*.pkl")
    state.write_bytes(b"not a pickle")
    again = service_at(DayCache(_spec(), root=tmp_path), "10:05", _sim, settings=None)
    try:
        assert not isinstance(again.source, FrozenDay)  # played again
        assert again.snapshot("SPY") == expected
        assert state.exists() and state.read_bytes() != b"not a pickle"  # and cached again
    finally:
        again.stop()


def test_only_the_most_recently_used_states_are_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(daycache, "STATES_KEPT", 2)
    cache = DayCache(_spec(), root=tmp_path)
    for hhmm in ("09:45", "09:50", "09:55"):
        service_at(cache, hhmm, _sim, settings=None).stop()
    assert len(list(cache.dir.glob("engine-*.pkl"))) == 2
    assert json.loads(cache.meta_path.read_text())["session_date"] == DAY.isoformat()


def test_zdte_snapshot_twice_prints_the_same_and_the_second_reads_the_cache(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    argv = ["snapshot", "SPY", "--date", "2026-11-20", "--at", "10:05", "--scenario", "pin"]
    assert cli.main(argv) == 0
    first = capsys.readouterr().out
    (state,) = (tmp_path / "zdte" / "days").rglob("engine-*.pkl")
    written = state.stat().st_mtime_ns
    assert cli.main(argv) == 0
    assert capsys.readouterr().out == first
    assert state.stat().st_mtime_ns >= written and len(list((tmp_path / "zdte" / "days").rglob("*.pkl"))) == 1
    assert cli.main([*argv, "--no-cache"]) == 0
    assert json.loads(capsys.readouterr().out) == json.loads(first)  # the source played up to 10:05


@pytest.mark.parametrize("cache", [[], ["--no-cache"]])
def test_a_query_on_a_recording_without_at_answers_at_its_first_instant(tmp_path, monkeypatch, capsys, cache):
    """No --at on a recording: the state at its first instant, at once (it used to wait for ever
    for history up to a time a few microseconds later)."""
    from zdte_tui.store.writer import write_recording

    from .conftest import SESSION, build_session

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = write_recording(tmp_path / "day.parquet", build_session(minutes=2, trades_per_slice=10), source="sim",
                           simulated=True, session_date=SESSION, symbols=["SPY"])
    argv = ["snapshot", "SPY", "--source", f"replay:{path}", *cache]
    args = cli.build_parser().parse_args(argv)
    svc = commands._query_service(args, ["SPY"], commands._settings(args))
    try:
        assert svc.status()["ready"]  # history up to the start time is in (it was never, before)
    finally:
        svc.stop()
    assert cli.main(argv) == 0
    assert json.loads(capsys.readouterr().out)["symbol"] == "SPY"
