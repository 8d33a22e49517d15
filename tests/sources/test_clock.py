"""PacedClock: session time = anchor + wall elapsed x speed; controls re-anchor and wake the source.

A fake monotonic clock and a fake sleep (which just advances it) stand in for wall time:
nothing here really sleeps.
"""

from __future__ import annotations

import asyncio
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fakes import FakeWall
from zdte_tui.market.events import NS_PER_SECOND
from zdte_tui.sources.clock import MAX_SPEED, MAX_STEP_SECONDS, PacedClock

S = NS_PER_SECOND
OPEN = 1_749_821_400 * S  # 2025-06-13 09:30 ET
CLOSE = OPEN + 23_400 * S



def make_clock(start=OPEN + 3600 * S, speed=1.0, wall=None, **kw) -> tuple[PacedClock, FakeWall]:
    wall = wall or FakeWall()
    return PacedClock(start, CLOSE, speed, time_fn=wall, sleep=wall.sleep, min_ns=OPEN, **kw), wall


def test_session_time_advances_at_speed_times_wall_time():
    clock, wall = make_clock(speed=2.0)
    wall.t += 3.0
    assert clock.now_ns == OPEN + 3600 * S + 6 * S  # 3 wall s x 2 = 6 session s


def test_pause_freezes_and_resume_continues_from_the_paused_instant():
    clock, wall = make_clock()
    wall.t += 10.0
    clock.pause()
    wall.t += 500.0
    assert clock.paused and clock.now_ns == OPEN + 3610 * S
    clock.resume()
    wall.t += 1.5
    assert clock.now_ns == OPEN + 3611 * S + S // 2


def test_set_speed_keeps_the_current_instant():
    clock, wall = make_clock()
    wall.t += 4.0
    clock.set_speed(10.0)
    assert clock.now_ns == OPEN + 3604 * S
    wall.t += 1.0
    assert clock.now_ns == OPEN + 3614 * S


def test_step_and_seek_clamp_to_the_session():
    clock, _ = make_clock()
    clock.pause()
    clock.step(60)
    assert clock.now_ns == OPEN + 3660 * S
    clock.seek(OPEN - 3600 * S)
    assert clock.now_ns == OPEN
    clock.seek(CLOSE + S)
    assert clock.now_ns == CLOSE and clock.at_end


def test_zero_speed_means_as_fast_as_possible():
    clock, _ = make_clock(speed=0)
    assert clock.speed is None
    with pytest.raises(ValueError):
        clock.set_speed(-1.0)


async def test_advance_paces_slices_by_wall_time():
    clock, wall = make_clock()
    start = clock.now_ns
    target = await clock.advance(start, max_wall_seconds=0.25)
    assert target == start + S // 4
    assert wall.sleeps == [0.25]


async def test_advance_catches_up_without_sleeping_when_behind():
    clock, wall = make_clock()
    start = clock.now_ns
    wall.t += 2.0  # the consumer was slow: 2 s of session time are due
    assert await clock.advance(start, 0.25) == start + 2 * S
    assert wall.sleeps == []


async def test_step_while_paused_is_delivered_at_once():
    clock, wall = make_clock()
    clock.pause()
    start = clock.now_ns
    clock.step(5)
    assert await clock.advance(start, 0.25) == start + 5 * S
    assert wall.sleeps == []


async def test_backward_seek_returns_an_earlier_time():
    clock, _ = make_clock()
    start = clock.now_ns
    clock.seek(OPEN + 600 * S)
    assert await clock.advance(start, 0.25) == OPEN + 600 * S


async def test_fast_mode_advances_in_aligned_30s_slices_without_sleeping():
    clock, wall = make_clock(start=OPEN + 10 * S, speed=None)
    first = await clock.advance(OPEN + 10 * S, 0.25)
    second = await clock.advance(first, 0.25)
    assert (first, second) == (OPEN + 30 * S, OPEN + 60 * S)
    assert wall.sleeps == []


async def test_paused_advance_waits_for_a_control_from_another_task():
    clock, _ = make_clock()
    clock.pause()
    start = clock.now_ns
    waiter = asyncio.create_task(clock.advance(start, 0.25))
    await asyncio.sleep(0)
    assert not waiter.done()
    clock.step(1)
    assert await waiter == start + S


async def test_a_control_from_another_thread_wakes_the_waiter():
    clock, _ = make_clock()
    clock.pause()
    start = clock.now_ns
    waiter = asyncio.create_task(clock.advance(start, 0.25))
    await asyncio.sleep(0)
    thread = threading.Thread(target=clock.seek, args=(start + 30 * S,))
    thread.start()
    thread.join()
    assert await waiter == start + 30 * S


async def test_advance_at_the_close_waits_until_a_backward_seek():
    clock, _ = make_clock(start=CLOSE)
    waiter = asyncio.create_task(clock.advance(CLOSE, 0.25))
    await asyncio.sleep(0)
    assert not waiter.done()
    clock.seek(OPEN)
    assert await waiter == OPEN


async def test_close_releases_waiters():
    clock, _ = make_clock()
    clock.pause()
    start = clock.now_ns
    waiter = asyncio.create_task(clock.advance(start, 0.25))
    await asyncio.sleep(0)
    clock.close()
    assert await waiter == start


async def test_wait_until_returns_when_the_instant_is_reached():
    clock, wall = make_clock()
    start = clock.now_ns
    assert await clock.wait_until(start + 90 * S) == start + 90 * S
    assert sum(wall.sleeps) == pytest.approx(90.0)


async def test_wait_until_returns_early_on_a_control():
    clock, _ = make_clock()
    clock.pause()
    start = clock.now_ns
    waiter = asyncio.create_task(clock.wait_until(start + 90 * S))
    await asyncio.sleep(0)
    clock.step(10)
    assert await waiter == start + 10 * S


controls = st.lists(st.one_of(
    st.tuples(st.just("wall"), st.floats(0, 5000)),
    st.tuples(st.just("pause"), st.none()),
    st.tuples(st.just("resume"), st.none()),
    st.tuples(st.just("speed"), st.sampled_from([0.5, 1.0, 10.0, 600.0])),
    st.tuples(st.just("step"), st.floats(-3600, 3600)),
    st.tuples(st.just("seek"), st.integers(OPEN - 3600 * S, CLOSE + 3600 * S)),
), max_size=30)


@settings(max_examples=150, deadline=None)
@given(controls)
def test_session_time_stays_in_the_session_and_is_frozen_while_paused(ops):
    clock, wall = make_clock()
    for op, value in ops:
        if op == "wall":
            before = clock.now_ns
            wall.t += value
            assert clock.now_ns >= before
            if clock.paused:
                assert clock.now_ns == before
        elif op == "pause":
            clock.pause()
        elif op == "resume":
            clock.resume()
        elif op == "speed":
            clock.set_speed(value)
        elif op == "step":
            clock.step(value)
        else:
            clock.seek(value)
        assert OPEN <= clock.now_ns <= CLOSE


# ---------------------------------------------------------------- bounded controls (issue 14, item 1)
@pytest.mark.parametrize("speed", [float("inf"), float("nan"), 1e308, MAX_SPEED * 2, -1.0])
def test_set_speed_refuses_non_finite_or_out_of_range_values_and_keeps_the_old_speed(speed):
    clock, wall = make_clock(speed=2.0)

    with pytest.raises(ValueError):
        clock.set_speed(speed)

    assert clock.speed == 2.0
    wall.t += 1.0
    assert clock.now_ns == OPEN + 3600 * S + 2 * S


@pytest.mark.parametrize("seconds", [float("inf"), float("-inf"), float("nan"), MAX_STEP_SECONDS + 1])
def test_step_refuses_non_finite_or_huge_values_and_leaves_the_time_alone(seconds):
    clock, _ = make_clock()

    with pytest.raises(ValueError):
        clock.step(seconds)

    assert clock.now_ns == OPEN + 3600 * S


@given(speed=st.floats(min_value=1e-6, max_value=MAX_SPEED), elapsed=st.floats(min_value=0, max_value=1e7))
@settings(max_examples=200, deadline=None)
def test_now_stays_within_the_session_at_any_accepted_speed(speed, elapsed):
    clock, wall = make_clock(speed=speed)
    wall.t += elapsed

    assert OPEN <= clock.now_ns <= CLOSE
