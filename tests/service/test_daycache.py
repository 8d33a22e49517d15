"""The day cache behind one-shot queries (issue 13: "each CLI query takes ~5 s because it
re-simulates the morning"): a query at a time already asked reads the engine state at that time,
and answers exactly as the source played up to it does."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from zdte_tui import cli, commands
from zdte_tui.engine.params import EngineParams
from zdte_tui.market.calendar import et_clock_to_ns
from zdte_tui.market.events import SessionReset
from zdte_tui.service import daycache, simday
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
    # the state at 10:05 and the hourly checkpoint passed on the way (10:00; the open's is not kept)
    assert sorted(p.name for p in cache.dir.glob("engine-*.pkl")) == sorted(
        f"engine-{t}.pkl" for t in (first.engine.clock_ns, et_clock_to_ns(DAY, "10:00")))

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
    state = cache.state_path(et_clock_to_ns(DAY, "10:05"))
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
    (state,) = (tmp_path / "zdte" / "days").rglob(f"engine-{et_clock_to_ns(DAY, '10:05')}.pkl")
    written = state.stat().st_mtime_ns
    assert cli.main(argv) == 0
    assert capsys.readouterr().out == first
    assert state.stat().st_mtime_ns >= written and len(list((tmp_path / "zdte" / "days").rglob("*.pkl"))) == 2
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


def test_a_new_time_resumes_from_the_newest_cached_state_on_the_half_hour_grid_and_answers_exactly(tmp_path,
                                                                                                 monkeypatch):
    """10:05 asked first caches its state and the 10:00 checkpoint; 11:20 then resumes from 10:00
    (10:05 is off the :00/:30 grid: resuming there would cut the 10:00-10:30 batch in two) and
    ingests only (10:00, 11:20]; 12:00 resumes from the 11:00 checkpoint passed by the 11:20 play.
    The answers equal a play from the open, exactly."""
    cache = DayCache(_spec(), root=tmp_path)
    service_at(cache, "10:05", _sim, settings=None).stop()
    captured: list = []
    played = simday.CachedSimSource.events

    async def recorded(self):
        async for e in played(self):
            captured.append(e)
            yield e

    for hhmm, resumed_from in (("11:20", "10:00"), ("12:00", "11:00")):
        straight = service_at(DayCache(_spec(), root=tmp_path / "fresh" / hhmm), hhmm, _sim, settings=None)
        captured.clear()
        with monkeypatch.context() as m:
            m.setattr(simday.CachedSimSource, "events", recorded)
            resumed = service_at(DayCache(_spec(), root=tmp_path), hhmm, _sim, settings=None)
        try:
            assert resumed.seek_restores == 1 and straight.seek_restores == 0
            assert captured[0] == SessionReset(ts_ns=et_clock_to_ns(DAY, hhmm),
                                               resume_ns=et_clock_to_ns(DAY, resumed_from))
            assert min(e.start_ns for e in captured[1:]) == et_clock_to_ns(DAY, resumed_from)  # no morning
            assert resumed.events_ingested < straight.events_ingested
            assert json.dumps(_answers(resumed)) == json.dumps(_answers(straight))
        finally:
            resumed.stop()
            straight.stop()


def test_a_day_of_several_simulated_symbols_never_resumes(tmp_path):
    """The simulator delivers several symbols' history one after the other: resuming would
    interleave them differently, so only an exact hit is read from the cache."""
    spec = _spec(symbols=["SPY", "QQQ"])

    def both(at):
        return SimSource(["SPY", "QQQ"], session_date=DAY, seed=7, scenario="pin", at=at, speed=1.0)

    service_at(DayCache(spec, root=tmp_path), "10:00", both, settings=None).stop()
    again = service_at(DayCache(spec, root=tmp_path), "10:40", both, settings=None)
    try:
        assert again.seek_restores == 0 and not isinstance(again.source, FrozenDay)
    finally:
        again.stop()


@pytest.mark.parametrize("command", ["snapshot", "signals"])
def test_zdte_queries_at_new_times_print_exactly_what_an_uncached_query_prints(tmp_path, monkeypatch, capsys,
                                                                             command):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    day = ["--date", "2026-11-20", "--scenario", "pin"]
    for hhmm in ("12:10", "10:30", "13:00", "12:40"):  # each but the first resumes from a cached state
        assert cli.main([command, "SPY", "--at", hhmm, *day]) == 0
        cached = capsys.readouterr().out
        assert cli.main([command, "SPY", "--at", hhmm, *day, "--no-cache"]) == 0
        assert cached == capsys.readouterr().out


def test_a_recording_at_a_new_time_resumes_from_a_cached_checkpoint_and_answers_exactly(tmp_path):
    from zdte_tui.sources.replay import ReplaySource
    from zdte_tui.store.writer import write_recording

    from .conftest import SESSION, build_session

    path = write_recording(tmp_path / "day.parquet", build_session(minutes=120, trades_per_slice=50), source="sim",
                           simulated=True, session_date=SESSION, symbols=["SPY"])  # 09:30-11:30
    spec = DaySpec.replay(path, None, EngineParams())

    def replay(at):
        return ReplaySource(path, at=at, speed=1.0)

    service_at(DayCache(spec, root=tmp_path / "c"), "10:47", replay, settings=None).stop()
    resumed = service_at(DayCache(spec, root=tmp_path / "c"), "11:20", replay, settings=None)
    straight = service_at(DayCache(spec, root=tmp_path / "fresh"), "11:20", replay, settings=None)
    try:
        assert resumed.seek_restores == 1 and resumed.events_ingested < straight.events_ingested
        assert json.dumps(_answers(resumed)) == json.dumps(_answers(straight))
    finally:
        resumed.stop()
        straight.stop()


def test_zdte_queries_and_exports_on_a_recording_at_new_times_print_exactly_what_an_uncached_one_prints(
        tmp_path, monkeypatch, capsys):
    """A recorded day through the cache (keyed by the file's path, size and modification time):
    each --at after the first resumes from a cached state and prints what --no-cache prints."""
    from zdte_tui.store.writer import write_recording

    from .conftest import SESSION, build_session

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    path = write_recording(tmp_path / "day.parquet", build_session(minutes=120, trades_per_slice=50), source="sim",
                           simulated=True, session_date=SESSION, symbols=["SPY"])
    src = ["--source", f"replay:{path}"]
    for hhmm, argv in (("10:47", ["signals", "SPY"]), ("11:20", ["snapshot", "SPY"]),
                       ("10:05", ["export", "SPY", "--what", "heatmap", "--format", "csv"]),
                       ("11:29", ["export", "SPY", "--what", "signals", "--format", "json"])):
        assert cli.main([*argv, *src, "--at", hhmm]) == 0
        cached = capsys.readouterr().out
        assert cli.main([*argv, *src, "--at", hhmm, "--no-cache"]) == 0
        assert cached == capsys.readouterr().out and len(cached) > 100
    assert len(list((tmp_path / "xdg").rglob("engine-*.pkl"))) >= 4


def test_zdte_export_at_a_new_time_on_a_seen_simulated_day_prints_what_an_uncached_export_prints(
        tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    day = ["--date", "2026-11-20", "--scenario", "pin"]
    assert cli.main(["snapshot", "SPY", "--at", "11:00", *day]) == 0
    capsys.readouterr()
    for what in ("levels", "series"):
        argv = ["export", "SPY", "--what", what, "--format", "csv", "--at", "11:42", *day]
        assert cli.main(argv) == 0
        cached = capsys.readouterr().out
        assert cli.main([*argv, "--no-cache"]) == 0
        assert cached == capsys.readouterr().out and len(cached) > 100


def test_a_query_imports_no_ui_web_or_dataframe_stack_and_a_cached_state_not_even_the_simulator(tmp_path):
    """``zdte snapshot|signals|export --at`` load only what answers: never textual, rich, pandas,
    pyarrow, the HTTP stack or the TUI; a cached state answers without loading the simulator."""
    import subprocess
    import sys

    script = (
        "import sys, io, contextlib\n"
        "from zdte_tui.cli import main\n"
        "argv = sys.argv[1:]\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    assert main(argv) == 0\n"
        "print(' '.join(sorted(sys.modules)))\n"
    )
    env = {**__import__("os").environ, "XDG_CACHE_HOME": str(tmp_path)}
    heavy = ("textual", "rich", "pandas", "pyarrow", "fastapi", "uvicorn", "httpx", "zdte_tui.ui.app", "zdte_tui.api")
    warm = ("import datetime; from zdte_tui.market import calendar; "  # a cold calendar cache is built once
            "calendar.session_bounds_ns(datetime.date(2026, 11, 20))")  # with exchange_calendars (pandas)
    subprocess.run([sys.executable, "-c", warm], env=env, check=True)
    runs = {}
    for name, argv in (("first", ["snapshot", "SPY", "--date", "2026-11-20", "--at", "10:05"]),
                       ("cached", ["signals", "SPY", "--date", "2026-11-20", "--at", "10:05"]),
                       ("export", ["export", "SPY", "--what", "levels", "--format", "csv", "--date", "2026-11-20",
                                   "--at", "10:05"])):
        done = subprocess.run([sys.executable, "-c", script, *argv], env=env, capture_output=True, text=True,
                              check=True)
        runs[name] = set(done.stdout.split())
    for name, modules in runs.items():
        assert not [m for m in modules if m.split(".")[0] in heavy or m.startswith(heavy)], name
    assert "zdte_tui.sources.sim" in runs["first"]
    assert "zdte_tui.sources.sim" not in runs["cached"] and "zdte_tui.sources.sim" not in runs["export"]


def test_an_unusable_cache_directory_is_reported_and_the_query_answers_as_without_the_cache(tmp_path, monkeypatch,
                                                                                            capsys):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the cache directory would go")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    argv = ["snapshot", "SPY", "--date", "2026-11-20", "--at", "10:05", "--scenario", "pin"]
    assert cli.main(argv) == 0
    out, err = capsys.readouterr()
    assert "the day cache is not available" in err
    assert cli.main([*argv, "--no-cache"]) == 0
    assert capsys.readouterr().out == out


def test_a_cache_that_cannot_be_written_still_answers(tmp_path, monkeypatch):
    def disk_full(*_a, **_k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(daycache, "dump_engine", disk_full)
    cache = DayCache(_spec(), root=tmp_path)
    svc = service_at(cache, "10:05", _sim, settings=None)
    try:
        assert svc.snapshot("SPY")["symbol"] == "SPY"
        assert not list(cache.dir.glob("engine-*.pkl")) and not list(cache.dir.glob(".*.tmp"))
    finally:
        svc.stop()
