"""The simulator: deterministic, realistic enough to exercise the engine, truth kept consistent;
SimSource delivers history at once and then plays on a (fake) clock."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fakes import FakeWall
from zdte_tui.market.calendar import et_clock_to_ns, ns_to_et
from zdte_tui.market.events import NS_PER_SECOND, ChainDefinition, EventBatch, SessionReset
from zdte_tui.market.occ import parse_occ
from zdte_tui.sources.sim import SimSource, simulate_session
from zdte_tui.sources.sim_model import (
    ABOVE_ASK,
    BELOW_BID,
    BLOCK,
    SCENARIO_MIX,
    SWEEP,
    resolve_scenario,
    simulate_spot,
    symbol_profile,
)

S = NS_PER_SECOND
DAY = dt.date(2025, 6, 13)  # a Friday, full session
EARLY_CLOSE_DAY = dt.date(2025, 11, 28)  # the day after Thanksgiving closes at 13:00 ET


@functools.cache
def session(symbol="SPY", seed=1, scenario="trend", day=DAY):
    return simulate_session(symbol, day, seed, scenario)


def digest(s) -> str:
    h = hashlib.sha256()
    for arr in (s.chain.strikes, s.chain.settled_oi, s.spot.ts_ns, s.spot.price, s.quotes.ts_ns,
                s.quotes.contract, s.quotes.bid, s.quotes.ask, s.quotes.bid_size, s.quotes.ask_size,
                s.trades.ts_ns, s.trades.contract, s.trades.price, s.trades.size, s.trades.exchange,
                s.truth.customer_side, s.truth.opening, s.truth.oi_after, s.truth.dealer_position_eod):
        h.update(np.ascontiguousarray(arr).tobytes())
    return h.hexdigest()


def nbbo_in_force(s):
    """Bid/ask of each trade's contract from the last quote with ts <= the trade's ts."""
    q, t = s.quotes, s.trades
    key_q = q.contract.astype(np.int64) * (1 << 50) + (q.ts_ns - s.open_ns)
    order = np.argsort(key_q, kind="stable")
    key_t = t.contract.astype(np.int64) * (1 << 50) + (t.ts_ns - s.open_ns)
    idx = order[np.searchsorted(key_q[order], key_t, side="right") - 1]
    assert np.array_equal(q.contract[idx], t.contract)
    return q.bid[idx], q.ask[idx]


# ---------------------------------------------------------------- determinism


def test_same_seed_gives_identical_bytes():
    assert digest(simulate_session("IWM", DAY, 11, "flip")) == digest(simulate_session("IWM", DAY, 11, "flip"))


def test_different_seed_gives_a_different_session():
    assert digest(simulate_session("IWM", DAY, 11, "flip")) != digest(simulate_session("IWM", DAY, 12, "flip"))


def test_auto_scenario_is_picked_by_seed_and_unknown_names_are_rejected():
    assert resolve_scenario(7, "auto") == resolve_scenario(7, "auto")
    assert simulate_session("IWM", DAY, 7).scenario == resolve_scenario(7)
    with pytest.raises(ValueError, match="scenario"):
        resolve_scenario(1, "moon")


def test_auto_draws_scenarios_in_the_documented_mix():
    picks = [resolve_scenario(seed) for seed in range(4000)]
    for name, weight in SCENARIO_MIX.items():
        assert abs(picks.count(name) / len(picks) - weight) < 0.025


def test_a_non_trading_day_is_rejected():
    with pytest.raises(ValueError, match="not a trading day"):
        simulate_session("SPY", dt.date(2025, 6, 14), 1)


# ---------------------------------------------------------------- chain


def test_chain_lists_strikes_from_10_pct_under_to_5_pct_over_the_prior_close():
    s = session()
    chain = s.chain
    assert chain.underlying == "SPY" and chain.expiry == DAY
    assert chain.is_call.sum() == (~chain.is_call).sum()
    k = chain.strikes[::2]
    assert k.min() <= 0.90 * chain.prev_close and k.max() >= 1.05 * chain.prev_close  # real SPXW: -9.7 % / +4.5 %
    near = np.abs(k - chain.prev_close) <= 0.02 * chain.prev_close
    assert np.all(np.diff(k[near]) == 1.0)  # SPY strikes are $1 apart near the money, $5 in the wings
    assert set(np.diff(k[k < 0.97 * chain.prev_close]).tolist()) == {5.0}
    assert (chain.settled_oi >= 0).all()
    first = parse_occ(chain.occ_symbols[0])
    assert len(chain.occ_symbols[0]) == 21
    assert (first.root, first.expiry, first.strike, first.is_call) == ("SPY", DAY, chain.strikes[0], True)


def test_settled_oi_concentrates_on_round_strikes_and_out_of_the_money():
    chain = session().chain
    near = np.abs(chain.strikes - chain.prev_close) <= 0.015 * chain.prev_close
    otm = np.where(chain.is_call, chain.strikes > chain.prev_close, chain.strikes < chain.prev_close)
    round_ = np.isclose(chain.strikes % 5, 0)
    assert np.median(chain.settled_oi[near & otm & round_]) > 1.3 * np.median(chain.settled_oi[near & otm & ~round_])
    assert chain.settled_oi[near & otm].sum() > 3 * chain.settled_oi[near & ~otm].sum()


def test_wing_strikes_carry_open_interest():
    chain = session().chain
    far_puts = ~chain.is_call & (chain.strikes < 0.96 * chain.prev_close)
    share = chain.settled_oi[far_puts].sum() / chain.settled_oi.sum()
    assert 0.03 < share < 0.25  # real SPXW 2026-08-13: 9 % of the 0DTE OI more than 4 % under the close


def test_spx_uses_the_spxw_root_5_point_strikes_near_the_money_and_25_in_the_wings():
    chain = simulate_session("SPX", DAY, 1, "quiet").chain
    assert chain.occ_symbols[0].startswith("SPXW  ")
    k = chain.strikes[::2]
    assert np.all(np.diff(k[np.abs(k / chain.prev_close - 1) <= 0.02]) == 5.0)
    assert set(np.diff(k[k < 0.97 * chain.prev_close]).tolist()) == {25.0}


def test_default_level_is_the_dated_reference_and_a_configured_level_replaces_it():
    assert symbol_profile("SPX").level_date >= "2026-08-01" and 7000 < symbol_profile("SPX").spot_usd < 8500
    s = simulate_session("SPY", DAY, 1, "quiet", level=500.0)
    assert abs(s.chain.prev_close / 500.0 - 1) < 0.05 and abs(s.spot.price[0] / 500.0 - 1) < 0.06
    with pytest.raises(ValueError, match="positive price"):
        symbol_profile("SPY", level=-1.0)


def test_unknown_symbols_get_a_plausible_profile():
    profile = symbol_profile("ZZZQ")
    assert profile == symbol_profile("zzzq")
    assert 20 <= profile.spot_usd <= 500 and profile.strike_step_usd in (0.5, 1.0, 2.5)
    s = simulate_session("ZZZQ", DAY, 3, "quiet")
    assert len(s.trades) > 1000 and s.chain.occ_symbols[0].startswith("ZZZQ")


# ---------------------------------------------------------------- tape realism


def test_spy_day_has_real_print_and_quote_counts():
    s = session()
    assert 300_000 <= len(s.trades) <= 600_000
    assert len(s.quotes) <= 2_000_000


def test_events_are_sorted_and_inside_the_session():
    s = session()
    for ts in (s.spot.ts_ns, s.quotes.ts_ns, s.trades.ts_ns):
        assert np.all(np.diff(ts) >= 0)
        assert ts[0] >= s.open_ns and ts[-1] <= s.close_ns
    assert s.spot.ts_ns[0] == s.open_ns and s.spot.ts_ns[-1] == s.close_ns


def test_trading_is_u_shaped_through_the_day():
    s = session()
    minute = (s.trades.ts_ns - s.open_ns) // (60 * S)
    first, midday, last = (minute < 30).sum(), ((minute >= 180) & (minute < 210)).sum(), (minute >= 360).sum()
    assert first > 1.3 * midday and last > 1.3 * midday


def test_print_sizes_have_a_heavy_tail():
    size = session().trades.size
    assert np.percentile(size, 99) / np.median(size) >= 10
    assert size.min() >= 1


def test_quotes_are_never_crossed_and_bids_never_negative():
    q = session().quotes
    assert (q.bid >= 0).all()
    assert (q.bid < q.ask).all()
    assert np.allclose(np.round(q.ask * 100), q.ask * 100)  # on the penny grid


def test_every_contract_is_quoted_at_the_open():
    s = session()
    first_second = s.quotes.ts_ns < s.open_ns + S
    assert set(np.unique(s.quotes.contract[first_second])) == set(range(s.chain.n_contracts))


def test_trades_print_within_a_tick_of_the_nbbo_unless_flagged_through_it():
    s = session()
    bid, ask = nbbo_in_force(s)
    tick = 0.01
    flagged = np.isin(s.truth.aggressor, (ABOVE_ASK, BELOW_BID))
    inside = (s.trades.price >= bid - tick - 1e-9) & (s.trades.price <= ask + tick + 1e-9)
    assert inside[~flagged].all()
    assert (s.trades.price > 0).all()
    # the truth's aggressor class is the print's position against that NBBO
    at_ask = s.truth.aggressor == 1
    assert np.allclose(s.trades.price[at_ask], ask[at_ask])
    assert 0.005 < flagged.mean() < 0.08


def test_aggressor_mix_is_mostly_at_the_quotes():
    agg = session().truth.aggressor
    share = {k: (agg == k).mean() for k in (-2, -1, 0, 1, 2)}
    assert 0.25 < share[1] < 0.5 and 0.25 < share[-1] < 0.5 and 0.15 < share[0] < 0.35


def test_sweeps_are_same_side_bursts_on_one_contract_across_venues_within_500ms():
    s = session()
    legs = s.truth.structure == SWEEP
    assert 0.05 < legs.mean() < 0.35
    parent = s.truth.parent[legs]
    order = np.argsort(parent, kind="stable")
    parent, ts = parent[order], s.trades.ts_ns[legs][order]
    contract, side = s.trades.contract[legs][order], s.truth.customer_side[legs][order]
    exchange = s.trades.exchange[legs][order]
    starts = np.flatnonzero(np.r_[True, parent[1:] != parent[:-1]])
    counts = np.diff(np.r_[starts, len(parent)])
    assert counts.min() >= 2
    same = parent[1:] == parent[:-1]
    assert (contract[1:] == contract[:-1])[same].all() and (side[1:] == side[:-1])[same].all()
    assert (exchange[1:] != exchange[:-1])[same].all()
    span = np.maximum.reduceat(ts, starts) - np.minimum.reduceat(ts, starts)
    assert span.max() < 500_000_000
    assert s.trades.exchange.min() >= 1 and s.trades.exchange.max() <= 16


def test_blocks_are_large_lone_prints():
    s = session()
    blocks = s.truth.structure == BLOCK
    assert blocks.any()
    assert np.median(s.trades.size[blocks]) >= 10 * np.median(s.trades.size)


def test_open_close_truth_follows_positions_not_a_time_of_day_line():
    # the engine's prior falls linearly from 0.68 to 0.32 opening; the simulator's opening share comes
    # from new positions, holding times and prior unwinds, and stays between 0.45 and 0.8 all day
    s = session()
    hour = (s.trades.ts_ns - s.open_ns) // (3600 * S)
    shares = [float((s.truth.opening[hour == h] == 1).mean()) for h in range(7)]
    assert all(0.45 < x < 0.8 for x in shares), shares
    assert (s.truth.opening == -1).mean() > 0.2 and (s.truth.opening == 0).mean() > 0.02


def test_a_closer_is_the_same_contract_and_size_as_an_earlier_opener_on_the_other_side():
    s = session()
    t, truth = s.trades, s.truth
    ids, first = np.unique(truth.parent, return_index=True)  # each parent order and its first print
    size = np.bincount(truth.parent, weights=t.size.astype(np.float64))[ids].astype(np.int64)
    contract, side, opening = t.contract[first], truth.customer_side[first], truth.opening[first]
    open_positions: dict[tuple[int, int, int], int] = {}
    matched = closers = 0
    for i in np.argsort(t.ts_ns[first], kind="stable")[:30_000]:
        if opening[i] == 1:
            k = (int(contract[i]), int(size[i]), int(side[i]))
            open_positions[k] = open_positions.get(k, 0) + 1
        elif opening[i] == -1:
            closers += 1
            k = (int(contract[i]), int(size[i]), -int(side[i]))
            if open_positions.get(k, 0) > 0:
                open_positions[k] -= 1
                matched += 1
    assert closers > 1000 and matched > 0.5 * closers  # the others unwind prior-day positions


# ---------------------------------------------------------------- truth


def test_truth_open_interest_never_goes_negative_and_adds_up():
    s = session()
    t, truth = s.trades, s.truth
    assert (truth.oi_after >= 0).all()
    delta = np.bincount(t.contract, weights=truth.opening * t.size, minlength=s.chain.n_contracts)
    assert np.array_equal(truth.oi_eod, s.chain.settled_oi + delta.astype(np.int64))
    last = np.full(s.chain.n_contracts, -1)
    last[t.contract] = np.arange(len(t))  # the last print of each contract
    traded = last >= 0
    assert np.array_equal(truth.oi_after[last[traded]], truth.oi_eod[traded])
    assert np.array_equal(truth.oi_at(t, s.close_ns), truth.oi_eod)
    assert np.array_equal(truth.oi_at(t, s.open_ns), s.chain.settled_oi)


def test_dealer_position_is_the_other_side_of_customer_flow():
    s = session()
    flow = np.bincount(s.trades.contract, weights=s.truth.customer_side * s.trades.size,
                       minlength=s.chain.n_contracts)
    assert np.array_equal(s.truth.dealer_position_eod, s.truth.dealer_position_start - flow.astype(np.int64))
    assert set(np.unique(s.truth.customer_side)) == {-1, 1}
    assert set(np.unique(s.truth.opening)) <= {-1, 0, 1}


@settings(max_examples=4, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), scenario=st.sampled_from(["pin", "squeeze", "flip", "trend", "quiet"]))
def test_any_seed_keeps_quotes_uncrossed_and_oi_nonnegative(seed, scenario):
    s = simulate_session("IWM", DAY, seed, scenario)
    assert (s.quotes.bid >= 0).all() and (s.quotes.bid < s.quotes.ask).all()
    assert (s.truth.oi_after >= 0).all()


# ---------------------------------------------------------------- scenarios


def test_dealer_hedging_pins_long_gamma_days_to_the_pin_strike():
    # same fundamental path, with and without the hedging impact: the close sits nearer the pin
    hedged, unhedged = [], []
    for seed in range(1, 9):
        chain, spot, info = simulate_spot("SPY", DAY, seed, "pin")
        pin = chain.strikes[np.argmax(np.where(np.abs(chain.strikes / chain.prev_close - 1) < 0.004,
                                               chain.settled_oi, 0))]
        hedged.append(abs(spot[-1] - pin))
        unhedged.append(abs(info["fundamental"][-1] - pin))
    assert np.median(hedged) < np.median(unhedged)


def test_dealer_hedging_damps_long_gamma_days_and_amplifies_short_gamma_days():
    for scenario, damped in (("quiet", True), ("pin", True), ("trend", False), ("squeeze", False)):
        gains = [np.median(simulate_spot("SPY", DAY, seed, scenario)[2]["hedge_gain"]) for seed in range(1, 5)]
        assert (np.median(gains) < 1.0) == damped, scenario


def test_flip_crosses_the_flip_level_midday():
    s = session("SPY", 2, "flip")
    level = s.truth.flip_level
    minute = (s.spot.ts_ns - s.open_ns) // (60 * S)
    assert np.mean(s.spot.price[minute < 60] > level) > 0.9  # the morning holds above the level
    assert s.spot.price[(minute >= 150) & (minute < 270)].min() < level  # crossed by mid-afternoon


def test_squeeze_moves_further_than_quiet():
    squeeze = session("SPY", 3, "squeeze").spot.price
    quiet = session("SPY", 3, "quiet").spot.price
    assert abs(np.log(squeeze[-1] / squeeze[0])) > abs(np.log(quiet[-1] / quiet[0]))


def test_early_close_day_ends_at_13_00():
    s = simulate_session("IWM", EARLY_CLOSE_DAY, 1, "quiet")
    close = ns_to_et(s.close_ns)
    assert (close.hour, close.minute) == (13, 0)
    assert s.spot.ts_ns[-1] == s.close_ns and s.trades.ts_ns[-1] < s.close_ns
    assert s.quotes.ts_ns[-1] < s.close_ns


# ---------------------------------------------------------------- SimSource



def make_source(symbols=("IWM",), **kw):
    wall = FakeWall()
    kw.setdefault("session_date", DAY)
    kw.setdefault("seed", 5)
    src = SimSource(list(symbols), time_fn=wall, sleep=wall.sleep, **kw)
    return src, wall


async def take_until(agen, predicate):
    out = []
    async for event in agen:
        out.append(event)
        if predicate(event):
            return out
    return out


def test_source_describes_itself_as_simulated():
    src, _ = make_source(seed=7)
    assert (src.name, src.simulated, src.symbols, src.session_date) == ("sim", True, ("IWM",), DAY)
    assert src.label == f"SIMULATED seed 7 · {resolve_scenario(7)}"
    assert src.clock is not None and src.clock.now_ns == et_clock_to_ns(DAY, "10:30")


async def test_history_up_to_at_arrives_at_once_in_chunks_aligned_to_30s():
    src, wall = make_source(at="10:30")
    at_ns = et_clock_to_ns(DAY, "10:30")
    events = await take_until(src.events(), lambda e: isinstance(e, EventBatch) and e.end_ns >= at_ns)
    assert wall.sleeps == []  # nothing waited on the clock
    assert isinstance(events[0], ChainDefinition)
    batches = [e for e in events if isinstance(e, EventBatch)]
    assert batches[0].start_ns == src.open_ns - 30 * S and batches[0].end_ns == src.open_ns
    assert batches[0].spot.price[0] == src.session("IWM").spot.price[0]  # the opening print
    assert all(b.start_ns % (30 * S) == 0 and b.end_ns % (30 * S) == 0 for b in batches)
    assert all(0 < b.end_ns - b.start_ns <= 30 * 60 * S for b in batches)  # chunks of at most 30 min
    assert [b.start_ns for b in batches[1:]] == [b.end_ns for b in batches[:-1]]
    assert batches[-1].end_ns == at_ns
    n_trades = sum(len(b.trades) for b in batches)
    s = src.session("IWM")
    assert n_trades == np.searchsorted(s.trades.ts_ns, at_ns, side="right")


async def test_batches_hold_only_their_slice_and_are_sorted():
    src, _ = make_source(at="09:45")
    events = await take_until(src.events(), lambda e: isinstance(e, EventBatch) and e.end_ns >= src.start_ns)
    for b in (e for e in events if isinstance(e, EventBatch)):
        for ts in (b.spot.ts_ns, b.quotes.ts_ns, b.trades.ts_ns):
            assert np.all(np.diff(ts) >= 0)
            assert ((ts > b.start_ns) & (ts <= b.end_ns)).all()


async def test_playing_yields_small_paced_slices():
    src, wall = make_source(at="10:30", batch_seconds=0.25, speed=4.0)
    agen = src.events()
    await take_until(agen, lambda e: isinstance(e, EventBatch) and e.end_ns >= src.start_ns)
    live = await agen.__anext__()
    assert (live.start_ns, live.end_ns) == (src.start_ns, src.start_ns + S)  # 0.25 wall s x 4
    assert wall.sleeps == [0.25]
    await agen.aclose()


async def test_first_symbols_history_comes_first_then_live_slices_interleave_by_time():
    src, _ = make_source(symbols=("IWM", "ZZZQ"), at="09:32")
    agen = src.events()
    history = await take_until(agen, lambda e: isinstance(e, EventBatch) and e.end_ns >= src.start_ns
                               and e.underlying == "ZZZQ")
    kinds = [(type(e).__name__, e.underlying) for e in history]
    first_zzzq = kinds.index(("ChainDefinition", "ZZZQ"))
    assert kinds[0] == ("ChainDefinition", "IWM")
    assert all(u == "IWM" for _, u in kinds[:first_zzzq])  # the on-screen symbol is complete first
    assert [b.end_ns for b in history if isinstance(b, EventBatch) and b.underlying == "IWM"][-1] == src.start_ns
    live = [await agen.__anext__() for _ in range(4)]
    assert [b.underlying for b in live] == ["IWM", "ZZZQ"] * 2
    assert live[0].end_ns == live[1].end_ns and live[2].end_ns == live[3].end_ns
    await agen.aclose()


async def test_pause_stops_the_stream_and_step_delivers_exactly_the_step():
    src, wall = make_source(at="10:30")
    agen = src.events()
    await take_until(agen, lambda e: isinstance(e, EventBatch) and e.end_ns >= src.start_ns)
    src.clock.pause()
    wall.t += 1000.0  # wall time passes while paused
    src.clock.step(5)
    batch = await agen.__anext__()
    assert (batch.start_ns, batch.end_ns) == (src.start_ns, src.start_ns + 5 * S)
    pending = asyncio.ensure_future(agen.__anext__())
    await asyncio.sleep(0)
    assert not pending.done()  # paused: nothing more comes
    src.clock.resume()
    batch = await pending
    assert batch.start_ns == src.start_ns + 5 * S
    await agen.aclose()


async def test_seek_forward_delivers_the_skipped_span_at_once():
    src, wall = make_source(at="10:30")
    agen = src.events()
    await take_until(agen, lambda e: isinstance(e, EventBatch) and e.end_ns >= src.start_ns)
    target = et_clock_to_ns(DAY, "11:00")
    src.clock.seek(target)
    events = await take_until(agen, lambda e: isinstance(e, EventBatch) and e.end_ns >= target)
    assert wall.sleeps == []
    assert events[0].start_ns == src.start_ns and events[-1].end_ns == target
    assert len(events) == 1  # 10:30-11:00 is one history chunk (<= 30 min, aligned)
    await agen.aclose()


async def test_seek_backward_resets_and_replays_the_history():
    src, _ = make_source(at="10:30")
    agen = src.events()
    await take_until(agen, lambda e: isinstance(e, EventBatch) and e.end_ns >= src.start_ns)
    target = et_clock_to_ns(DAY, "10:00")
    src.clock.seek(target)
    events = await take_until(agen, lambda e: isinstance(e, EventBatch) and e.end_ns >= target)
    assert isinstance(events[0], SessionReset) and events[0].ts_ns == target
    assert isinstance(events[1], ChainDefinition)
    batches = [e for e in events if isinstance(e, EventBatch)]
    assert batches[0].start_ns == src.open_ns - 30 * S and batches[-1].end_ns == target
    await agen.aclose()


async def test_fast_playback_runs_to_the_close_and_ends():
    src, wall = make_source(at="15:50", speed=0)
    events = [e async for e in src.events()]
    batches = [e for e in events if isinstance(e, EventBatch)]
    assert batches[-1].end_ns == src.close_ns
    assert wall.sleeps == []
    assert sum(len(b.trades) for b in batches) == len(src.session("IWM").trades)


async def test_aclose_ends_a_paused_stream():
    src, _ = make_source(at="10:30")
    agen = src.events()
    await take_until(agen, lambda e: isinstance(e, EventBatch) and e.end_ns >= src.start_ns)
    src.clock.pause()
    pending = asyncio.ensure_future(agen.__anext__())
    await asyncio.sleep(0)
    await src.aclose()
    with pytest.raises(StopAsyncIteration):
        await pending
