"""The day generated block by block (and at real scale), and the compact copy a SimSource keeps for all-day
play: both decode to exactly the generated events."""

import datetime as dt

import numpy as np
import pytest

from zdte_tui.market.calendar import session_bounds_ns
from zdte_tui.sources.sim import CompactSession
from zdte_tui.sources.sim_model import iter_session_blocks, plan_session, simulate_session

DAY = dt.date(2025, 6, 13)


def test_compact_session_batches_equal_the_full_sessions_batches():
    full = simulate_session("IWM", DAY, 3, "auto")
    compact = CompactSession.of(full)
    open_ns, close_ns = session_bounds_ns(DAY)
    rng = np.random.default_rng(0)
    cuts = np.sort(rng.integers(open_ns - 60 * 10**9, close_ns + 10**9, 12))
    cuts = np.concatenate([[open_ns - 30 * 10**9], cuts, [open_ns + 1800 * 10**9, close_ns]])
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        a, b = full.batch(int(lo), int(hi)), compact.batch(int(lo), int(hi))
        for group in ("spot", "quotes", "trades"):
            ga, gb = getattr(a, group), getattr(b, group)
            for f in ga.__dataclass_fields__:
                x, y = getattr(ga, f), getattr(gb, f)
                assert x.dtype == y.dtype and np.array_equal(x, y), (group, f, lo, hi)


def test_compact_copy_built_block_by_block_is_the_compact_copy_of_the_whole_day():
    full = CompactSession.of(simulate_session("IWM", DAY, 3, "auto"))
    blocks = CompactSession.from_plan(plan_session("IWM", DAY, 3, "auto"))
    for group in ("spot", "quotes", "trades"):
        assert full._dec[group] == blocks._dec[group], group
        assert set(full._cols[group]) == set(blocks._cols[group])
        for f, x in full._cols[group].items():
            y = blocks._cols[group][f]
            assert x.dtype == y.dtype and np.array_equal(x, y), (group, f)


def test_a_session_generated_on_demand_gives_every_window_of_the_whole_day():
    # the blocks a window reaches are generated when it is asked for, in any order of windows, and decode
    # to exactly what the whole day's compact copy holds
    full = CompactSession.from_plan(plan_session("IWM", DAY, 3, "auto"))
    lazy = CompactSession.lazy(plan_session("IWM", DAY, 3, "auto"))
    open_ns, close_ns = session_bounds_ns(DAY)
    assert lazy.held_events() == len(full._cols["spot"]["ts_ns"])  # no quote or print generated yet
    lazy.generate_through(open_ns + 3600 * 10**9)  # 10:30: the blocks 09:30-10:00 and 10:00-10:30 only
    assert lazy.generated_through_ns == open_ns + 3600 * 10**9
    lazy.generate_through(open_ns + 3600 * 10**9 + 1)  # a nanosecond later: the next block
    assert lazy.generated_through_ns == open_ns + 5400 * 10**9
    cuts = [open_ns - 30 * 10**9, open_ns, open_ns + 1800 * 10**9, open_ns + 1800 * 10**9 + 1,
            open_ns + 7000 * 10**9, open_ns + 5 * 3600 * 10**9, close_ns]
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        a, b = full.batch(lo, hi), lazy.batch(lo, hi)
        for group in ("spot", "quotes", "trades"):
            ga, gb = getattr(a, group), getattr(b, group)
            for f in ga.__dataclass_fields__:
                x, y = getattr(ga, f), getattr(gb, f)
                assert x.dtype == y.dtype and np.array_equal(x, y), (group, f, lo, hi)
    lazy.generate_through(close_ns)
    assert lazy.generated_through_ns is None and lazy.held_events() == full.held_events()


def test_prints_and_nbbo_rows_do_not_depend_on_the_block_length():
    # the quote rows' sub-second stamps and displayed sizes draw from one stream per block; everything
    # else (which rows, bid/ask, every print and its price) is the same for any block length
    plan = plan_session("IWM", DAY, 3, "auto")
    a, b = list(iter_session_blocks(plan)), list(iter_session_blocks(plan, 600))
    def cat(parts, k, f):
        return np.concatenate([getattr(p[k], f) for p in parts])
    for f in ("ts_ns", "contract", "price", "size", "exchange"):
        assert np.array_equal(cat(a, 3, f), cat(b, 3, f)), f
    for f in ("contract", "bid", "ask"):
        assert np.array_equal(cat(a, 2, f), cat(b, 2, f)), f
    assert np.array_equal(cat(a, 2, "ts_ns") // 10**9, cat(b, 2, "ts_ns") // 10**9)


def test_compact_session_uses_about_half_the_memory():
    full = simulate_session("IWM", DAY, 3, "auto")
    compact = CompactSession.of(full)
    size = lambda g: sum(getattr(g, f).nbytes for f in g.__dataclass_fields__)  # noqa: E731
    full_bytes = size(full.quotes) + size(full.trades)
    assert compact.nbytes(("quotes", "trades")) <= 0.6 * full_bytes


def test_released_events_are_gone_and_later_windows_are_unchanged():
    full = simulate_session("IWM", DAY, 3, "auto")
    compact = CompactSession.of(full)
    open_ns, close_ns = session_bounds_ns(DAY)
    noon = open_ns + 150 * 60 * 10**9
    before = compact.held_events()
    compact.release_before(noon)
    after = compact.held_events()
    assert compact.released_before_ns == noon and after < before
    a, b = full.batch(noon, close_ns), compact.batch(noon, close_ns)
    assert np.array_equal(a.trades.ts_ns, b.trades.ts_ns) and np.array_equal(a.quotes.bid, b.quotes.bid)
    assert len(compact.batch(open_ns, noon).trades) == 0  # released


async def test_a_backward_seek_after_release_regenerates_the_day():
    from zdte_tui.market.events import EventBatch, SessionReset
    from zdte_tui.sources.sim import SimSource

    src = SimSource(["IWM"], session_date=DAY, seed=3, at="15:00", speed=None, linger=True)
    agen = src.events()
    async for ev in agen:
        if isinstance(ev, EventBatch) and ev.end_ns >= src.close_ns - 60 * 10**9:
            break
    src.clock.seek(src.open_ns + 3600 * 10**9)
    seen_reset, trades = False, 0
    async for ev in agen:
        seen_reset |= isinstance(ev, SessionReset)
        if isinstance(ev, EventBatch):
            trades += len(ev.trades)
            if ev.end_ns >= src.open_ns + 3600 * 10**9:
                break
    full = simulate_session("IWM", DAY, 3, "auto")
    expected = int(np.searchsorted(full.trades.ts_ns, src.open_ns + 3600 * 10**9, side="right"))
    assert seen_reset and trades == expected
    await agen.aclose()


def test_streamed_day_is_the_generated_session_in_30_minute_batches_with_its_truth():
    from zdte_tui.market.events import ChainDefinition, EventBatch, VolContext
    from zdte_tui.sources.sim import stream_simulated_day

    full = simulate_session("IWM", DAY, 3, "auto")
    truth: dict = {}
    events = list(stream_simulated_day(["IWM"], DAY, 3, "auto", truth_out=truth))
    assert isinstance(events[0], ChainDefinition) and isinstance(events[1], VolContext)
    batches = [e for e in events if isinstance(e, EventBatch)]
    assert [b.end_ns - b.start_ns for b in batches[:2]] == [30 * 10**9, 1800 * 10**9]
    for b in batches:  # every event inside its window (start, end]
        for g in (b.spot, b.quotes, b.trades):
            assert ((g.ts_ns > b.start_ns) & (g.ts_ns <= b.end_ns)).all()
    for group in ("spot", "quotes", "trades"):
        want = getattr(full, group)
        for f in want.__dataclass_fields__:
            got = np.concatenate([getattr(getattr(b, group), f) for b in batches])
            assert np.array_equal(got, getattr(want, f)), (group, f)
    for f in ("customer_side", "opening", "oi_after", "aggressor", "oi_eod", "dealer_position_eod"):
        assert np.array_equal(getattr(truth["IWM"], f), getattr(full.truth, f)), f


def test_intensity_above_one_is_a_real_scale_day():
    base = plan_session("IWM", DAY, 3, "quiet")
    real = plan_session("IWM", DAY, 3, "quiet", intensity=2.0)
    # every $1 strike from -15 % to +10 % of the prior close, a call and a put each
    k = real.chain.strikes[::2]
    assert np.all(np.diff(k) == 1.0)
    assert k[0] <= real.chain.prev_close * 0.85 + 1 and k[-1] >= real.chain.prev_close * 1.10 - 1
    # about twice the prints (a Poisson count of parent orders: within 5 %)
    assert abs(len(real.prints["rel_ns"]) / len(base.prints["rel_ns"]) - 2.0) < 0.1
    # a 1-second NBBO: every contract quotes every second of the block
    _, _, quotes, _, _ = next(iter_session_blocks(real, 60))
    assert len(quotes.ts_ns) == 60 * real.chain.n_contracts


def test_intensity_must_be_positive():
    with pytest.raises(ValueError, match="intensity"):
        plan_session("IWM", DAY, 3, "quiet", intensity=0.0)


def test_zdte_simulate_writes_the_streamed_day_with_its_truth(tmp_path):
    from zdte_tui.commands import write_simulated_day
    from zdte_tui.store.reader import Recording

    info = write_simulated_day(tmp_path / "iwm.zdte", ["IWM"], session_date=DAY, seed=3)
    rec = Recording.open(info["out"])
    full = simulate_session("IWM", DAY, 3, "auto")
    truth = rec.truth("IWM")
    assert np.array_equal(truth["aggressor"], full.truth.aggressor)
    assert np.array_equal(truth["oi_eod"], full.truth.oi_eod)
