"""Specification of zdte_tui.engine.sampler: the raw 30 s tier, slot times, boundaries, window
reads downsampled last-in-bucket, and gaps (docs/model.md, "Sampler").
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from zdte_tui.engine.sampler import BAR_SECONDS, STRIKE_METRICS, BarSampler, downsample_last
from zdte_tui.market.calendar import is_early_close, ns_to_et, session_bounds_ns

from .conftest import CLOSE_NS, NS, OPEN_NS, PROPERTY, at

GRID = np.array([590.0, 600.0, 610.0])


def sampler() -> BarSampler:
    return BarSampler(OPEN_NS, CLOSE_NS, GRID)


# --------------------------------------------------------------------------- slots
def test_a_full_session_has_781_slots_from_the_bell_to_the_close():
    s = sampler()
    assert s.n_slots == 6.5 * 120 + 1
    assert s.slot_time_ns(0) == OPEN_NS
    assert s.slot_time_ns(780) == CLOSE_NS
    assert s.strike["gex"].shape == (781, 3) and s.strike["gex"].dtype == np.float32
    assert not s.filled.any()


def test_an_early_close_session_has_421_slots():
    day = date(2026, 11, 27)  # the day after Thanksgiving: 13:00 ET close
    assert is_early_close(day)
    open_ns, close_ns = session_bounds_ns(day)
    assert BarSampler(open_ns, close_ns, GRID).n_slots == 3.5 * 120 + 1


def test_slot_times_are_snapped_to_00_and_30_seconds_et():
    s = sampler()
    for k in range(s.n_slots):
        t = ns_to_et(int(s.slot_time_ns(k)))
        assert t.second in (0, 30) and t.microsecond == 0
    assert ns_to_et(int(s.slot_time_ns(1))).strftime("%H:%M:%S") == "09:30:30"
    assert ns_to_et(int(s.slot_time_ns(780))).strftime("%H:%M:%S") == "16:00:00"


def test_slot_of_a_time_is_the_last_slot_at_or_before_it():
    s = sampler()
    assert s.slot_of(at(0)) == 0
    assert s.slot_of(at(29.999)) == 0
    assert s.slot_of(at(30)) == 1
    assert s.slot_of(at(95)) == 3


@pytest.mark.parametrize("start_s, end_s, expected_s", [
    (-1e-9, 60, [0, 30, 60]),     # the opening bell is a boundary
    (0, 59.999, [30]),            # start is exclusive, end inclusive
    (0, 60, [30, 60]),
    (30, 30, []),
    (10, 20, []),
    (-3600, -1, []),              # before the open
    (23_390, 30_000, [23_400]),   # clamped at the close
    (23_400, 30_000, []),
])
def test_boundaries_in_a_half_open_interval(start_s, end_s, expected_s):
    got = sampler().boundaries_in(at(start_s), at(end_s))
    assert got.tolist() == [at(x) for x in expected_s]


# --------------------------------------------------------------------------- record / regrid
def test_record_rows_writes_their_slots_and_drops_slots_outside_the_session():
    s = sampler()
    s.record_rows(np.array([3]), {"gex": np.array([[1.0, 2.0, 3.0]])},
                  {"spot": np.array([600.5]), "gamma_flip": np.array([np.nan])})
    assert s.filled.tolist().count(True) == 1 and s.filled[3]
    np.testing.assert_array_equal(s.strike["gex"][3], [1.0, 2.0, 3.0])
    assert s.series["spot"][3] == 600.5 and np.isnan(s.series["gamma_flip"][3])
    s.record_rows(np.array([-1, 781]), {"gex": np.ones((2, 3))}, {"spot": np.ones(2)})
    assert s.filled.sum() == 1


def test_regrid_keeps_values_under_their_strikes_and_new_strikes_start_nan():
    s = sampler()
    s.record_rows(np.array([2]), {m: np.array([[1.0, 2.0, 3.0]]) for m in STRIKE_METRICS}, {})
    s.regrid(np.array([585.0, 590.0, 595.0, 600.0, 610.0]))
    np.testing.assert_array_equal(s.strike["oi"][2], [np.nan, 1.0, np.nan, 2.0, 3.0])


# --------------------------------------------------------------------------- windows
def filled_sampler(slots) -> BarSampler:
    s = sampler()
    s.filled[np.asarray(slots, dtype=np.int64)] = True
    return s


def test_window_of_one_minute_of_30s_bars_with_every_slot_filled():
    s = filled_sampler(np.arange(781))
    assert s.window_slots(at(300), 1, "30s").tolist() == [8, 9, 10]  # 09:34:00 .. 09:35:00 inclusive


def test_window_1m_bars_take_the_last_slot_of_each_minute_and_the_open_alone():
    s = filled_sampler(np.arange(781))
    # buckets ceil(slot / 2): {0}, {1,2}, {3,4}, {5,6}, ...; now = 09:32:30 is slot 5 (a partial bucket)
    assert s.window_slots(at(150), 390, "1m").tolist() == [0, 2, 4, 5]


def test_window_skips_unfilled_slots_and_shows_the_latest_sample_of_a_partial_bucket():
    s = filled_sampler([0, 1, 3, 7, 8, 9])
    assert s.window_slots(at(9 * 30), 390, "5m").tolist() == [0, 9]     # buckets of 10 slots
    assert s.window_slots(at(9 * 30 + 10), 390, "1m").tolist() == [0, 1, 3, 8, 9]


def test_window_minutes_are_clamped_to_1_through_390():
    s = filled_sampler(np.arange(781))
    now = at(23_400)
    np.testing.assert_array_equal(s.window_slots(now, 0, "30s"), s.window_slots(now, 1, "30s"))
    np.testing.assert_array_equal(s.window_slots(now, -5, "30s"), s.window_slots(now, 1, "30s"))
    np.testing.assert_array_equal(s.window_slots(now, 10_000, "30s"), s.window_slots(now, 390, "30s"))
    assert len(s.window_slots(now, 390, "30s")) == 781


def test_window_before_the_open_is_empty_and_after_the_close_ends_at_the_close():
    s = filled_sampler(np.arange(781))
    assert len(s.window_slots(at(-1), 390, "30s")) == 0
    assert s.window_slots(at(30_000), 390, "15m")[-1] == 780


@PROPERTY
@given(seed=st.integers(0, 2**32 - 1), now_s=st.integers(-60, 24_000), minutes=st.integers(-10, 500),
       bar=st.sampled_from(sorted(BAR_SECONDS)), fill=st.floats(0.0, 1.0))
def test_window_downsampling_equals_the_last_in_bucket_reference(seed, now_s, minutes, bar, fill):
    rng = np.random.default_rng(seed)
    s = filled_sampler(np.flatnonzero(rng.random(781) < fill))
    now = at(now_s + rng.random())  # sub-second offsets too
    got = s.window_slots(now, minutes, bar)
    # reference: filled slots inside [now - clamp(minutes) min, now], then downsample_last on their times
    m = min(390, max(1, minutes))
    slots = np.arange(781)
    times_ns = s.slot_time_ns(slots)
    keep = s.filled & (times_ns <= now) & (times_ns >= now - m * 60 * NS)
    t_s = slots[keep] * 30
    expected_t, expected_slots = downsample_last(slots[keep], t_s, BAR_SECONDS[bar])
    np.testing.assert_array_equal(got, expected_slots)
    np.testing.assert_array_equal(expected_t, expected_slots * 30)
    assert np.all(np.diff(got) > 0)


def test_downsample_last_reference_by_hand():
    t = np.array([0, 30, 60, 90, 150, 300, 330])
    values = np.arange(7)
    times, vals = downsample_last(values, t, 60)
    # buckets ceil(t/60): 0 | 1 1 | 2 | 3 | 5 | 6
    assert times.tolist() == [0, 60, 90, 150, 300, 330]
    assert vals.tolist() == [0, 2, 3, 4, 5, 6]


# --------------------------------------------------------------------------- gaps
def test_gaps_merge_when_they_overlap_or_touch_and_empty_ones_are_ignored():
    s = sampler()
    s.add_gap(10, 20)
    s.add_gap(15, 30)
    assert s.gaps == [(10, 30)]
    s.add_gap(40, 50)
    s.add_gap(50, 60)
    assert s.gaps == [(10, 30), (40, 60)]
    s.add_gap(70, 70)
    s.add_gap(80, 75)
    assert s.gaps == [(10, 30), (40, 60)]
    s.add_gap(45, 55)  # inside the last gap
    assert s.gaps == [(10, 30), (40, 60)]


def test_gap_intervals_keep_gaps_touching_the_window():
    s = sampler()
    for a, b in ((10, 30), (40, 60), (100, 120)):
        s.add_gap(a, b)
    assert s.gap_intervals() == [(10, 30), (40, 60), (100, 120)]
    assert s.gap_intervals(30, 100) == [(10, 30), (40, 60), (100, 120)]
    assert s.gap_intervals(31, 99) == [(40, 60)]
    assert s.gap_intervals(None, 35) == [(10, 30)]
