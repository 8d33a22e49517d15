"""The simulator's on-disk cache of a day's prints (TradePlanCache): a cached day is the day, and a damaged
or foreign file is never read as one."""

import datetime as dt

import numpy as np

from zdte_tui.sources.sim import SimSource, TradePlanCache
from zdte_tui.sources.sim_model import plan_session

DAY = dt.date(2025, 6, 13)


def same_prints(a, b) -> bool:
    return a.keys() == b.keys() and all(a[k].dtype == b[k].dtype and np.array_equal(a[k], b[k]) for k in a)


def test_a_day_planned_twice_through_the_cache_is_drawn_once_and_is_the_same_day(tmp_path):
    cache = TradePlanCache(tmp_path)
    plain = plan_session("IWM", DAY, 3, "auto")
    first = plan_session("IWM", DAY, 3, "auto", trade_plan=cache)
    second = plan_session("IWM", DAY, 3, "auto", trade_plan=cache)
    assert (cache.misses, cache.hits, cache.rejected) == (1, 1, 0)
    assert same_prints(first.prints, plain.prints) and same_prints(second.prints, plain.prints)
    assert np.array_equal(second.spot, plain.spot)


def test_another_seed_level_or_scenario_is_another_file(tmp_path):
    cache = TradePlanCache(tmp_path)
    plan_session("IWM", DAY, 3, "pin", trade_plan=cache)
    plan_session("IWM", DAY, 4, "pin", trade_plan=cache)
    plan_session("IWM", DAY, 3, "quiet", trade_plan=cache)
    plan_session("IWM", DAY, 3, "pin", level=300.0, trade_plan=cache)
    assert (cache.misses, cache.hits) == (4, 0) and len(list(tmp_path.glob("prints-*.npz"))) == 4


def test_a_damaged_file_is_counted_and_replaced(tmp_path):
    cache = TradePlanCache(tmp_path)
    plain = plan_session("IWM", DAY, 3, "auto", trade_plan=cache)
    (path,) = tmp_path.glob("prints-*.npz")
    path.write_bytes(b"not a numpy archive")
    again = plan_session("IWM", DAY, 3, "auto", trade_plan=cache)
    assert (cache.misses, cache.hits, cache.rejected) == (2, 0, 1)
    assert same_prints(again.prints, plain.prints)
    assert plan_session("IWM", DAY, 3, "auto", trade_plan=cache) and cache.hits == 1  # the rewritten file reads


def test_only_the_most_recently_used_files_stay(tmp_path):
    cache = TradePlanCache(tmp_path, keep=2)
    for seed in (1, 2, 3):
        plan_session("IWM", DAY, seed, "quiet", trade_plan=cache)
    assert len(list(tmp_path.glob("prints-*.npz"))) == 2


def test_an_unwritable_cache_still_plays_the_day(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    cache = TradePlanCache(blocker / "sim")  # under a file: cannot be created
    plan = plan_session("IWM", DAY, 3, "auto", trade_plan=cache)
    assert same_prints(plan.prints, plan_session("IWM", DAY, 3, "auto").prints) and cache.misses == 1


async def test_a_source_with_the_cache_yields_the_events_of_one_without(tmp_path):
    from zdte_tui.market.events import EventBatch

    async def trades(src):
        out = []
        async for ev in src.events():
            if isinstance(ev, EventBatch):
                out.append(ev.trades.ts_ns)
        return np.concatenate(out)

    kw = {"session_date": DAY, "seed": 3, "at": "11:00", "speed": None}
    cache = TradePlanCache(tmp_path)
    want = await trades(SimSource(["IWM"], **kw))
    assert np.array_equal(await trades(SimSource(["IWM"], plan_cache=cache, **kw)), want)
    assert np.array_equal(await trades(SimSource(["IWM"], plan_cache=cache, **kw)), want)
    assert (cache.misses, cache.hits) == (1, 1)
