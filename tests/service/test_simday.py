"""Stored simulated days (issue 13: "a query at --at reads a cached simulated day instead of re-running
it"): the day cache keeps each simulated day's events on disk, so a query at a new time on a day
already seen resumes from a cached engine state and reads only the events after it, never simulating
the day again; the answers are exactly those of the simulator played from the open (``--no-cache``)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zdte_tui.engine.params import EngineParams
from zdte_tui.market.calendar import et_clock_to_ns
from zdte_tui.market.events import NS_PER_SECOND, EventBatch, SessionReset
from zdte_tui.service import FlowService, simday
from zdte_tui.service.daycache import DayCache, DaySpec, FrozenDay, service_at, start_of
from zdte_tui.service.simday import CHECK_ROWS, CachedSimSource, SimDays, StoredDay
from zdte_tui.sources import sim
from zdte_tui.sources.sim import SimSource

DAY = dt.date(2026, 11, 20)


def _sim(at, symbols=("SPY",)):
    return SimSource(list(symbols), session_date=DAY, seed=7, scenario="pin", at=at, speed=1.0)


def _spec(symbols=("SPY",)) -> DaySpec:
    return DaySpec.sim(list(symbols), DAY, 7, "pin", EngineParams())


def _answers(svc) -> dict:
    return {"snapshot": svc.snapshot("SPY"), "signals": svc.signals("SPY", limit=500),
            "series": svc.series("SPY", "1m", 390), "heatmap": svc.heatmap("SPY", "gex", "raw", "1m", 390)}


def _uncached(at) -> dict:
    """What ``zdte ... --no-cache`` answers: the simulator played from the open up to ``at``."""
    source = _sim(at)
    source.clock.pause()
    source.clock.seek(start_of(source))
    svc = FlowService(source)
    svc.start()
    svc.wait_ready(120)
    try:
        return json.loads(json.dumps(_answers(svc)))
    finally:
        svc.stop()


def _cached(root, at) -> tuple[dict, FlowService]:
    svc = service_at(DayCache(_spec(), root=root), at, _sim, settings=None)
    try:
        return json.loads(json.dumps(_answers(svc))), svc
    finally:
        svc.stop()


def _history(source) -> list:
    """The events a paused source delivers up to its start time (its history), in order."""
    source.clock.pause()
    source.clock.seek(start_of(source))
    target = start_of(source)

    async def collect():
        out, ends = [], {}
        async for e in source.events():
            out.append(e)
            if isinstance(e, EventBatch):
                ends[e.underlying] = e.end_ns
                if len(ends) == len(source.symbols) and min(ends.values()) >= target:
                    return out
        return out

    return asyncio.run(collect())


def _same_event(a, b) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, EventBatch):
        return (a.underlying, a.start_ns, a.end_ns) == (b.underlying, b.start_ns, b.end_ns) and all(
            getattr(getattr(a, g), f).dtype == getattr(getattr(b, g), f).dtype
            and np.array_equal(getattr(getattr(a, g), f), getattr(getattr(b, g), f))
            for g in ("spot", "quotes", "trades") for f in getattr(a, g).__dataclass_fields__)
    if isinstance(a, sim.ChainDefinition):
        return all(np.array_equal(getattr(a, f), getattr(b, f)) for f in a.__dataclass_fields__)
    return a == b


@pytest.mark.parametrize("symbols", [("SPY",), ("SPY", "QQQ")])
def test_the_stored_day_delivers_the_simulators_events_bit_for_bit(tmp_path, symbols):
    days = SimDays(tmp_path)
    plain, stored = _history(_sim("10:05", symbols)), _history(CachedSimSource.like(_sim("10:05", symbols), days))
    assert len(plain) == len(stored) > 4
    assert all(_same_event(a, b) for a, b in zip(plain, stored, strict=True))
    # resuming from a state at 10:00: a SessionReset naming it, then the same slices after it
    resumed = []
    for make in (lambda: _sim("10:05", symbols), lambda: CachedSimSource.like(_sim("10:05", symbols), days)):
        source = make()
        source.resume_points = lambda t: et_clock_to_ns(DAY, "10:00")
        resumed.append(_history(source))
    assert resumed[0][0] == SessionReset(ts_ns=et_clock_to_ns(DAY, "10:05"), resume_ns=et_clock_to_ns(DAY, "10:00"))
    assert len(resumed[0]) == len(resumed[1]) and all(_same_event(a, b) for a, b in zip(*resumed, strict=True))


def test_a_new_time_on_a_day_already_seen_reads_the_stored_day_and_never_simulates(tmp_path, monkeypatch):
    _cached(tmp_path, "10:05")  # simulates and stores the day, caches the states at 10:00 and 10:05

    def no_simulation(*_a, **_k):
        raise AssertionError("the day is stored: nothing may be simulated")

    monkeypatch.setattr(simday, "stream_simulated_day", no_simulation)
    monkeypatch.setattr(simday, "plan_session", no_simulation)
    monkeypatch.setattr(sim, "plan_session", no_simulation)
    monkeypatch.setattr(sim, "simulate_session", no_simulation)
    answers, svc = _cached(tmp_path, "13:10")  # resumes from 10:00, reads (10:00, 13:10] from the stored day
    assert svc.seek_restores == 1 and not isinstance(svc.source, FrozenDay)
    monkeypatch.undo()
    assert answers == _uncached("13:10")


def _stored_dir(root):
    (directory,) = [d for d in (root / next(root.iterdir()).name / "sim").iterdir() if d.is_dir()]
    return directory


@pytest.mark.parametrize("damage", ["truncate a column", "garbage head", "no day.json", "other format"])
def test_a_stored_day_that_is_incomplete_or_unreadable_is_simulated_again(tmp_path, damage):
    _cached(tmp_path, "10:05")
    directory = _stored_dir(tmp_path)
    if damage == "truncate a column":
        path = directory / "quotes.bid.bin"
        path.write_bytes(path.read_bytes()[:-8])
    elif damage == "garbage head":
        (directory / "head.pickle").write_bytes(b"not a pickle")
    elif damage == "no day.json":
        (directory / "day.json").unlink()
    else:
        meta = json.loads((directory / "day.json").read_text())
        (directory / "day.json").write_text(json.dumps(meta | {"format": 0}))
    with pytest.raises(simday.DamagedDay):
        StoredDay(directory)
    answers, _ = _cached(tmp_path, "11:50")
    assert answers == _uncached("11:50")
    StoredDay(directory)  # stored again, whole


def test_a_flipped_byte_in_a_window_a_play_reads_is_caught_and_the_day_simulated_in_memory(tmp_path):
    _cached(tmp_path, "10:05")
    directory = _stored_dir(tmp_path)
    meta = json.loads((directory / "day.json").read_text())
    rows = meta["columns"]["trades.price.bin".removesuffix(".bin")]["rows"]
    assert rows > 2 * CHECK_ROWS
    path = directory / "trades.price.bin"
    data = bytearray(path.read_bytes())
    data[8 * (rows // 2) + 3] ^= 0x10  # a price in the middle of the day (read by a play to 15:00)
    path.write_bytes(bytes(data))
    StoredDay(directory)  # opening does not read the columns: the damage shows only when the window is read
    answers, _ = _cached(tmp_path, "15:00")
    assert answers == _uncached("15:00")
    assert not directory.exists()  # deleted: the next query stores the day again


def test_a_damaged_engine_state_fails_its_checksum_and_the_day_is_played_again(tmp_path):
    cache = DayCache(_spec(), root=tmp_path)
    first, _ = _cached(tmp_path, "10:05")
    path = cache.state_path(et_clock_to_ns(DAY, "10:05"))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # inside the pickled arrays: pickle itself would not notice
    path.write_bytes(bytes(data))
    again, svc = _cached(tmp_path, "10:05")
    assert not isinstance(svc.source, FrozenDay) and again == first


def test_the_cache_keeps_under_its_size_cap_dropping_the_least_recently_used_first(tmp_path, monkeypatch):
    cache = DayCache(_spec(), root=tmp_path)
    for hhmm in ("10:05", "10:35", "11:05"):
        _cached(tmp_path, hhmm)
    states = sorted(cache.dir.glob("engine-*.pkl"), key=lambda p: p.stat().st_mtime)
    for age, path in enumerate(reversed(states)):  # make the order of use explicit: the first written is oldest
        os.utime(path, (time.time() - 100 * age, time.time() - 100 * age))
    stored = _stored_dir(tmp_path)
    os.utime(stored, (time.time() - 10_000, time.time() - 10_000))  # the stored day: least recently used
    dead = cache.dir / ".engine-1.pkl.999.tmp"
    dead.write_bytes(b"x")
    os.utime(dead, (time.time() - 7200, time.time() - 7200))  # a writer that died two hours ago
    newest, stored_bytes = states[-1], sum(f.stat().st_size for f in stored.iterdir())
    left = cache.prune_to_size(keep=[stored], max_bytes=newest.stat().st_size + stored_bytes)
    assert stored.exists()  # kept although least recently used: the caller uses it
    assert [p for p in states if p.exists()] == [newest] and not dead.exists()
    assert left == newest.stat().st_size + stored_bytes
    cache.prune_to_size(max_bytes=0)
    assert not stored.exists() and not newest.exists()


def test_the_size_cap_comes_from_the_environment_in_megabytes():
    from zdte_tui.service.daycache import MAX_CACHE_MB, max_cache_bytes

    assert max_cache_bytes({"ZDTE_DAY_CACHE_MB": "250"}) == 250_000_000
    assert max_cache_bytes({}) == max_cache_bytes({"ZDTE_DAY_CACHE_MB": "lots"}) == MAX_CACHE_MB * 1_000_000


def test_other_code_reads_another_directory(tmp_path, monkeypatch):
    from zdte_tui.service import daycache

    before = DayCache(_spec(), root=tmp_path).version_dir
    monkeypatch.setattr(daycache, "_FINGERPRINT", "someothercode")
    after = DayCache(_spec(), root=tmp_path)
    assert after.version_dir != before and not before.exists()


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(minutes=st.lists(st.integers(min_value=1, max_value=389), min_size=2, max_size=2))
def test_any_sequence_of_query_times_answers_exactly_as_an_uncached_query(tmp_path_factory, minutes):
    """Whatever was asked before (what is cached), a query at any minute answers what the simulator
    played from the open up to it answers."""
    root = tmp_path_factory.mktemp("cache")
    open_ns = et_clock_to_ns(DAY, "09:30")
    for m in minutes:
        hhmm = time.strftime("%H:%M", time.gmtime((9 * 60 + 30 + m) * 60))
        assert et_clock_to_ns(DAY, hhmm) == open_ns + m * 60 * NS_PER_SECOND
        assert _cached(root, hhmm)[0] == _uncached(hhmm)
