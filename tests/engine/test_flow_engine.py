"""Specification of zdte_tui.engine.flow_engine.FlowEngine on a small hand-built SPY chain
(2026-03-16, the real XNYS session): hedge flow (a) from trades and (b) from re-hedging the book,
strike flow, effective OI, malformed input, 30 s sampling, gaps and read-only state
(docs/model.md, "Hedge flow", "Strike flow", "Sampler").

Common setup (:func:`warm_engine`): spot 600.00 and Black-Scholes quotes (20 vol, 1 cent either
side) arrive at 09:30:01; the batch ends at 09:30:30, a sample boundary, so the engine holds a
greeks reference at (09:30:30, S = 600). ``engine.state()`` at that clock recomputes the same
greeks, which is how the tests read the reference delta and gamma.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from zdte_tui.engine import flow_engine
from zdte_tui.engine.classify import AT_ASK, AT_BID, MID
from zdte_tui.engine.flow_engine import ChainState
from zdte_tui.engine.greeks import implied_vol, years_to_expiry
from zdte_tui.engine.params import EngineParams
from zdte_tui.market.events import ChainDefinition, FeedStatus, OptionTrades

from .conftest import (
    CLOSE_NS,
    OPEN_NS,
    PROPERTY_FEW,
    SPY_Q,
    SPY_R,
    at,
    batch,
    bs_quotes,
    call_index,
    new_engine,
    put_index,
    spy_chain,
)

S0 = 600.0


def warm_engine(chain: ChainDefinition | None = None, params: EngineParams | None = None, *,
                audit_prints: bool = False):
    """Engine that has seen spot 600 and a full set of quotes at 09:30:01 and sampled at 09:30:30."""
    chain = chain or spy_chain()
    engine = new_engine(chain, params, audit_prints=audit_prints)
    q = bs_quotes(chain, at(1), S0)
    engine.apply(batch(OPEN_NS, at(30), spot=[(at(1), S0)], option_quotes=q))
    assert engine.malformed_count == 0
    return engine, chain, q, engine.state("SPY")


def hedge_flows(engine) -> tuple[float, float]:
    st = engine.state("SPY")
    return st.hedge_flow_call_cumulative, st.hedge_flow_put_cumulative


def strike_flow(engine, strike: float) -> float:
    book = engine.books["SPY"]
    return float(book.flow_delta_cum[np.searchsorted(book.strike_grid, strike)])


# --------------------------------------------------------------------------- hedge flow (a)
def test_customer_buying_calls_at_the_ask_is_dealer_buying_n_100_delta_s():
    engine, chain, q, ref = warm_engine()
    c = call_index(chain, 600.0)
    before_call, before_put = hedge_flows(engine)
    engine.apply(batch(at(30), at(45), spot=[(at(35), 601.0)], trade_rows=[(at(40), c, q.ask[c], 10)]))
    # delta at the print: reference delta + gamma * (601 - 600), spot at the print 601
    delta = ref.delta[c] + ref.gamma[c] * (601.0 - S0)
    expected = 10 * 100 * delta * 601.0
    assert 0.3 < delta < 0.7 and expected > 0
    after_call, after_put = hedge_flows(engine)
    assert after_call - before_call == pytest.approx(expected, rel=1e-9)
    assert after_put == before_put
    assert strike_flow(engine, 600.0) == pytest.approx(expected, rel=1e-9)  # strike signed delta dollars
    # (the hedge flow above is 10 x 100 x delta x spot at the print: the print was valued at delta, 601)
    log = engine.books["SPY"].log
    assert log.view("aggressor").tolist() == [AT_ASK] and log.view("side").tolist() == [1]


def test_customer_buying_puts_at_the_ask_is_negative_hedge_flow():
    engine, chain, q, ref = warm_engine()
    p = put_index(chain, 595.0)
    engine.apply(batch(at(30), at(45), trade_rows=[(at(40), p, q.ask[p], 25)]))
    expected = 25 * 100 * ref.delta[p] * S0
    call_flow, put_flow = hedge_flows(engine)
    assert expected < 0
    assert put_flow == pytest.approx(expected, rel=1e-9)
    assert call_flow == 0.0
    assert strike_flow(engine, 595.0) == pytest.approx(expected, rel=1e-9)


def test_customer_selling_calls_at_the_bid_is_negative_hedge_flow():
    engine, chain, q, ref = warm_engine()
    c = call_index(chain, 605.0)
    engine.apply(batch(at(30), at(45), trade_rows=[(at(40), c, q.bid[c], 7)]))
    assert engine.books["SPY"].log.view("aggressor").tolist() == [AT_BID]
    assert hedge_flows(engine)[0] == pytest.approx(-7 * 100 * ref.delta[c] * S0, rel=1e-9)


def test_mid_prints_add_volume_but_no_hedge_or_strike_flow():
    engine, chain, q, _ = warm_engine()
    c = call_index(chain, 600.0)
    mid = 0.5 * (q.bid[c] + q.ask[c])
    engine.apply(batch(at(30), at(45), trade_rows=[(at(40), c, mid, 40)]))
    st = engine.state("SPY")
    assert engine.books["SPY"].log.view("aggressor").tolist() == [MID]
    assert (st.hedge_flow_call_cumulative, st.hedge_flow_put_cumulative) == (0.0, 0.0)
    assert strike_flow(engine, 600.0) == 0.0
    assert st.volume[c] == 40


def test_a_print_at_the_same_timestamp_as_a_new_quote_is_classified_against_the_new_quote():
    engine, chain, q, _ = warm_engine()
    c = call_index(chain, 600.0)
    old_ask = float(q.ask[c])
    engine.apply(batch(at(30), at(45), quote_rows=[(at(40), c, old_ask + 0.10, old_ask + 0.20)],
                       trade_rows=[(at(40), c, old_ask + 0.10, 5)]))
    # at the bid of the new quote (against the old one it would have been above the ask)
    assert engine.books["SPY"].log.view("aggressor").tolist() == [AT_BID]


def test_sweeps_span_batch_boundaries_in_the_trade_log():
    engine, chain, q, _ = warm_engine()
    c = call_index(chain, 600.0)
    ask = float(q.ask[c])
    engine.apply(batch(at(30), at(40), trade_rows=[(at(39.9), c, ask, 5)]))
    engine.apply(batch(at(40), at(50), trade_rows=[(at(40.2), c, ask, 5), (at(40.3), c, ask, 5),
                                                    (at(45), c, ask, 5)]))
    assert engine.books["SPY"].log.view("group").tolist() == [0, 0, 0, 3]  # ids = ordinal of the first leg


def test_trades_in_the_same_batch_as_the_first_quotes_get_hedge_flow():
    chain = spy_chain()
    engine = new_engine(chain)
    q = bs_quotes(chain, at(1), S0)
    c = call_index(chain, 600.0)
    engine.apply(batch(OPEN_NS, at(10), spot=[(at(1), S0)], option_quotes=q,
                       trade_rows=[(at(2), c, q.ask[c], 10)]))
    st = engine.state("SPY")
    assert st.hedge_flow_call_cumulative == pytest.approx(10 * 100 * st.delta[c] * S0, rel=1e-3)


# --------------------------------------------------------------------------- re-hedging (b)
@pytest.mark.parametrize("calls, expected_sign", [(True, -1.0), (False, +1.0)])
def test_rehedging_a_long_gamma_book_sells_a_rally_and_a_short_gamma_book_buys_it(calls, expected_sign):
    """Default convention: dealers long calls (long gamma) and short puts (short gamma).
    (b) = -sum(position * 100 * (gamma_ref * dS + charm_ref_per_hour * dt_hours)) * S at the boundary."""
    chain = spy_chain(calls=calls, puts=not calls)
    engine, chain, q, ref = warm_engine(chain)
    engine.apply(batch(at(30), at(60), spot=[(at(31), 603.0)]))
    st = engine.state("SPY")
    dd = ref.position * 100 * (ref.gamma * 3.0 + ref.charm_per_hour * (30 / 3600))
    expected = -dd.sum() * 603.0
    got = st.hedge_flow_call_cumulative if calls else st.hedge_flow_put_cumulative
    assert np.sign(expected) == expected_sign
    assert got == pytest.approx(expected, rel=1e-9)
    # the gamma part dominates the 30 s charm part here
    assert abs((ref.position * 100 * ref.gamma * 3.0).sum()) > 10 * abs(
        (ref.position * 100 * ref.charm_per_hour * (30 / 3600)).sum())
    # and the sampled series carries the same cumulative figure at 09:31:00
    series = engine.books["SPY"].sampler.series
    field = "hedge_flow_call_cumulative" if calls else "hedge_flow_put_cumulative"
    assert series[field][2] == pytest.approx(expected, rel=1e-9)


def test_no_spot_move_and_no_time_means_no_rehedging():
    engine, *_ = warm_engine()
    engine.apply(batch(at(30), at(30.5)))
    assert hedge_flows(engine) == (0.0, 0.0)


# --------------------------------------------------------------------------- positions and OI
def test_customer_flow_convention_moves_dealer_positions_against_customer_trades():
    engine, chain, q, ref = warm_engine(params=EngineParams(dealer_convention="customer_flow"))
    c, p = call_index(chain, 600.0), put_index(chain, 600.0)
    engine.apply(batch(at(30), at(45), trade_rows=[(at(40), c, q.ask[c], 10), (at(41), p, q.bid[p], 4)]))
    st = engine.state("SPY")
    assert st.position[c] == 1000 - 10       # dealers long calls on settled OI, then sold 10
    assert st.position[p] == -1000 + 4       # short puts, then bought 4 from the customer
    assert st.position_settled[c] == 1000 and st.position_settled[p] == -1000


def test_effective_oi_moves_by_the_expected_oi_change_of_each_print():
    engine, chain, q, _ = warm_engine()
    c = call_index(chain, 600.0)
    engine.apply(batch(at(30), at(45), trade_rows=[(at(40), c, q.ask[c], 100)]))
    fraction = (at(40) - OPEN_NS) / (CLOSE_NS - OPEN_NS)
    p_open = 0.68 + (0.32 - 0.68) * fraction + 0.06
    assert engine.state("SPY").effective_oi[c] == pytest.approx(1000 + 100 * (2 * p_open - 1))


@PROPERTY_FEW
@given(st.integers(0, 2**32 - 1))
def test_effective_oi_is_never_negative_even_under_huge_late_closing_flow(seed):
    rng = np.random.default_rng(seed)
    chain = spy_chain(settled_oi=rng.integers(0, 300, 10))
    engine = new_engine(chain)
    start = 23_000.0  # 15:53:20 ET: P(open) < 0.5, so prints close positions on average
    q = bs_quotes(chain, at(start + 1), S0)
    engine.apply(batch(at(start), at(start + 5), spot=[(at(start + 1), S0)], option_quotes=q))
    t = start + 5
    for _ in range(6):
        k = int(rng.integers(1, 30))
        ts = np.sort(rng.uniform(t + 0.001, t + 30, k))
        contract = rng.integers(0, chain.n_contracts, k)
        price = np.where(rng.random(k) < 0.5, q.ask[contract], q.bid[contract])
        size = np.where(rng.random(k) < 0.3, 1_000_000, rng.integers(1, 500, k))
        engine.apply(batch(at(t), at(t + 30), trade_rows=[(at(a), int(b), float(c), int(d))
                                                           for a, b, c, d in zip(ts, contract, price, size)]))
        t += 30
        assert np.all(engine.state("SPY").effective_oi >= 0.0)
    smp = engine.books["SPY"].sampler
    assert np.all(smp.strike["oi"][smp.filled] >= 0.0)
    assert engine.malformed_count == 0


# --------------------------------------------------------------------------- malformed input
def good_trade_row(chain, q, ts):
    c = call_index(chain, 600.0)
    return (ts, c, float(q.ask[c]), 1)


@pytest.mark.parametrize("case, expected_count", [
    ("trade_unknown_contract", 1),
    ("trade_negative_contract", 1),
    ("trade_nan_price", 1),
    ("trade_negative_size", 1),
    ("trade_zero_size", 1),
    ("quote_unknown_contract", 1),
    ("spot_nan", 1),
    ("unsorted_batch", 1),
])
def test_malformed_events_in_a_batch_are_counted_and_never_raise(case, expected_count):
    engine, chain, q, _ = warm_engine()
    good = good_trade_row(chain, q, at(40))
    rows = {
        "trade_unknown_contract": dict(trade_rows=[good, (at(41), 99, 1.0, 1)]),
        "trade_negative_contract": dict(trade_rows=[good, (at(41), -1, 1.0, 1)]),
        "trade_nan_price": dict(trade_rows=[good, (at(41), 0, float("nan"), 1)]),
        "trade_negative_size": dict(trade_rows=[good, (at(41), 0, 1.0, -5)]),
        "trade_zero_size": dict(trade_rows=[good, (at(41), 0, 1.0, 0)]),
        "quote_unknown_contract": dict(trade_rows=[good], quote_rows=[(at(39), 1234, 1.0, 1.1)]),
        "spot_nan": dict(trade_rows=[good], spot=[(at(39), float("nan"))]),
        "unsorted_batch": dict(trade_rows=[good, (at(35), 0, 1.0, 1)]),
    }[case]
    engine.apply(batch(at(30), at(45), **rows))
    assert engine.malformed_count == expected_count
    assert sum(engine.malformed_by_reason.values()) == expected_count
    # the good print survives unless the whole batch was unusable (unsorted)
    n_logged = engine.books["SPY"].log.n
    assert n_logged == (0 if case == "unsorted_batch" else 1)
    engine.state("SPY")  # still answers


def test_malformed_input_is_counted_under_a_named_reason():
    engine, chain, q, _ = warm_engine()
    good = good_trade_row(chain, q, at(40))
    engine.apply(batch(at(30), at(45), trade_rows=[good, (at(35), 0, 1.0, 1)]))
    assert engine.malformed_by_reason == {"unsorted_batch": 1}
    shrunk = dataclasses.replace(chain, strikes=chain.strikes[:2], is_call=chain.is_call[:2],
                                 settled_oi=chain.settled_oi[:2])
    engine.apply(shrunk)
    assert engine.malformed_by_reason == {"unsorted_batch": 1, "redefinition_not_append_only": 1}


def test_a_bug_inside_the_engine_propagates_and_is_not_counted_as_malformed():
    engine, chain, q, _ = warm_engine()

    def ingest_with_a_bug(_batch):
        raise ZeroDivisionError("a bug, not bad data")

    engine.ingest = ingest_with_a_bug
    with pytest.raises(ZeroDivisionError):
        engine.apply(batch(at(30), at(45), trade_rows=[good_trade_row(chain, q, at(40))]))
    assert engine.malformed_count == 0


def test_a_batch_before_its_chain_definition_is_counted_per_event():
    engine = new_engine(spy_chain())
    engine.apply(batch(OPEN_NS, at(10), underlying="QQQ", spot=[(at(1), 500.0)],
                       quote_rows=[(at(1), 0, 1.0, 1.1)], trade_rows=[(at(2), 0, 1.1, 1)]))
    assert engine.malformed_count == 3
    assert engine.malformed_by_reason == {"batch_before_definition": 3}
    assert "QQQ" not in engine.books


@pytest.mark.parametrize("event", ["not an event", 42, None, OptionTrades()])
def test_unknown_event_types_are_counted_and_never_raise(event):
    engine = new_engine(spy_chain())
    engine.apply(event)
    assert engine.malformed_count == 1


def test_feed_status_malformed_and_errors_are_recorded():
    engine = new_engine(spy_chain())
    engine.apply(FeedStatus("malformed", at(1), feed="equity_options_feed", count=7))
    engine.apply(FeedStatus("error", at(2), message="socket closed"))
    assert engine.malformed_count == 7
    assert engine.errors == ["socket closed"]


# --------------------------------------------------------------------------- sampling
def spot_stream(t0: float, t1: float, every: float = 5.0):
    times = np.arange(t0, t1, every)
    return [(at(t), S0 + 0.01 * i) for i, t in enumerate(times)]


def test_samples_are_taken_at_every_30s_boundary_a_batch_crosses():
    chain = spy_chain()
    engine = new_engine(chain)
    ticks = spot_stream(-9, 100)
    q = bs_quotes(chain, at(-9), S0)
    edges = np.arange(-10, 101, 7.0)
    for a, b in zip(edges[:-1], edges[1:]):
        engine.apply(batch(at(a), at(b), spot=[r for r in ticks if at(a) < r[0] <= at(b)],
                           option_quotes=q if a == -10 else None))
    smp = engine.books["SPY"].sampler
    assert np.flatnonzero(smp.filled).tolist() == [0, 1, 2, 3]  # 09:30:00 .. 09:31:30
    tick_ts = np.array([r[0] for r in ticks])
    tick_px = np.array([r[1] for r in ticks])
    for k in range(4):
        in_force = tick_px[np.searchsorted(tick_ts, smp.slot_time_ns(k), side="right") - 1]
        assert smp.series["spot"][k] == in_force
    assert np.all(np.isfinite(smp.series["net_gex"][:4]))
    assert np.all(smp.series["atm_iv"][:4] == pytest.approx(0.20, abs=2e-3))


def stream_after_reference(seed: int, chain):
    """Spot ticks, quote updates and trades between 09:30:30 and 09:33:00, all after the first sample."""
    rng = np.random.default_rng(seed)
    spot = [(at(t), S0 + 0.5 * math.sin(t / 7)) for t in np.arange(31, 180, 2.5)]
    quote_rows = []
    for t in np.sort(rng.uniform(31, 180, 20)):
        c = int(rng.integers(0, chain.n_contracts))
        q = bs_quotes(chain, at(t), S0, sigma=rng.uniform(0.15, 0.3))
        quote_rows.append((at(t), c, float(q.bid[c]), float(q.ask[c])))
    trade_rows = []
    for t in np.sort(rng.uniform(31, 180, 40)):
        c = int(rng.integers(0, chain.n_contracts))
        q = bs_quotes(chain, at(t), S0)
        px = float(rng.choice([q.bid[c], q.ask[c], 0.5 * (q.bid[c] + q.ask[c])]))
        trade_rows.append((at(t), c, px, int(rng.integers(1, 50))))
    return spot, quote_rows, trade_rows


def feed(engine, cuts, spot, quote_rows, trade_rows):
    for a, b in zip(cuts[:-1], cuts[1:]):
        engine.apply(batch(a, b, spot=[r for r in spot if a < r[0] <= b],
                           quote_rows=[r for r in quote_rows if a < r[0] <= b],
                           trade_rows=[r for r in trade_rows if a < r[0] <= b]))


@PROPERTY_FEW
@given(seed=st.integers(0, 2**32 - 1), cuts=st.lists(st.integers(31_000, 179_000), max_size=8),
       on_boundary=st.booleans())
def test_results_do_not_depend_on_how_the_stream_is_cut_into_batches(seed, cuts, on_boundary):
    chain = spy_chain()
    stream = stream_after_reference(seed, chain)
    extra = [at(60), at(90)] if on_boundary else []
    cut_ns = sorted({at(30), at(180), *extra, *(at(c / 1000) for c in cuts)})
    one, _, _, _ = warm_engine(chain, audit_prints=True)
    many, _, _, _ = warm_engine(chain, audit_prints=True)
    feed(one, [at(30), at(180)], *stream)
    feed(many, cut_ns, *stream)
    a, b = one.books["SPY"], many.books["SPY"]
    for col in ("ts_ns", "contract", "aggressor", "side", "group"):
        np.testing.assert_array_equal(a.log.view(col), b.log.view(col))
    for col in ("delta", "spot", "bid", "ask"):  # float32 audit columns
        np.testing.assert_allclose(a.log.view(col), b.log.view(col), rtol=1e-6)
    np.testing.assert_array_equal(a.sampler.filled, b.sampler.filled)
    for f in ("spot", "net_gex", "hedge_flow_call_cumulative", "hedge_flow_put_cumulative", "atm_iv",
              "net_call_premium_cumulative", "net_put_premium_cumulative"):
        np.testing.assert_allclose(a.sampler.series[f], b.sampler.series[f], rtol=1e-9, atol=1e-6)
    for m in ("gex", "oi", "flow_delta_cum", "flow_contracts_cum"):
        np.testing.assert_allclose(a.sampler.strike[m], b.sampler.strike[m], rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(a.net_oi_delta, b.net_oi_delta, rtol=1e-12, atol=1e-9)
    sa, sb = one.state("SPY"), many.state("SPY")
    assert sa.hedge_flow_call_cumulative == pytest.approx(sb.hedge_flow_call_cumulative, rel=1e-9, abs=1e-6)
    assert sa.gamma_flip == pytest.approx(sb.gamma_flip, rel=1e-12) if sa.gamma_flip else sb.gamma_flip is None


def sweepy_stream(seed: int, chain):
    """Prints from 09:30:05 (before the first sample and some before any quote) to 09:33:00, in bursts
    on a few contracts (sweeps), with quote updates in between and one print exactly at a quote's time."""
    spot, quote_rows, trade_rows = stream_after_reference(seed, chain)
    rng = np.random.default_rng(seed + 1)
    quote_rows = sorted(quote_rows + [(at(t), c, float(q.bid[c]), float(q.ask[c]))
                                      for t in (20.0, 64.0) for q in [bs_quotes(chain, at(t), S0)]
                                      for c in range(0, chain.n_contracts, 3)])
    for start in rng.uniform(5, 175, 6):
        c = int(rng.integers(0, chain.n_contracts))
        q = bs_quotes(chain, at(start), S0)
        side_px = float(q.ask[c] if rng.random() < 0.5 else q.bid[c])
        trade_rows += [(at(start) + k * 150_000_000, c, side_px, 5) for k in range(int(rng.integers(2, 9)))]
    trade_rows.append((quote_rows[len(quote_rows) // 2][0], quote_rows[len(quote_rows) // 2][1], 1.0, 3))
    return [(at(2), S0)] + spot, quote_rows, sorted(trade_rows)


@PROPERTY_FEW
@given(seed=st.integers(0, 2**32 - 1), block=st.integers(1, 40), warm=st.booleans())
def test_prints_in_blocks_are_the_whole_batch_at_once(seed, block, warm):
    # the trade path cuts a batch into blocks of PRINT_BLOCK prints (docs/model.md, "Trade path"):
    # every print's NBBO, classification, group and valuation is the same bits as in one block
    chain = spy_chain()
    stream = sweepy_stream(seed, chain)
    engines = []
    for size in (1 << 30, block):
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(flow_engine, "PRINT_BLOCK", size)
            engine = warm_engine(chain, audit_prints=True)[0] if warm else new_engine(chain, audit_prints=True)
            feed(engine, [at(30) if warm else OPEN_NS, at(180)], *stream)
        engines.append(engine.books["SPY"])
    whole, blocks = engines
    for col in (*flow_engine.TradeLog.COLUMNS, *flow_engine.TradeLog.AUDIT_COLUMNS):
        np.testing.assert_array_equal(whole.log.view(col), blocks.log.view(col))
    for name in ("bid", "ask", "last_ts", "last_side", "last_group", "volume", "customer_net", "flow_contracts_cum"):
        np.testing.assert_array_equal(getattr(whole, name), getattr(blocks, name))
    for name in ("net_oi_delta", "flow_delta_cum", "flow_gamma_cum", "hedge_trade", "hedge_rehedge", "net_premium"):
        np.testing.assert_allclose(getattr(whole, name), getattr(blocks, name), rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(whole.sampler.filled, blocks.sampler.filled)


def test_a_sample_after_a_long_gap_uses_the_quotes_of_the_new_batch():
    engine, chain, _, _ = warm_engine()
    t = 45 * 60.0  # 10:15:00 ET, 44.5 minutes after the last batch
    q = bs_quotes(chain, at(t + 1), S0, sigma=0.40)
    engine.apply(batch(at(t), at(t + 30), spot=[(at(t + 1), S0)], option_quotes=q))
    smp = engine.books["SPY"].sampler
    slot = smp.slot_of(at(t + 30))
    assert smp.filled[slot]
    np.testing.assert_allclose(smp.iv[slot], 0.40, atol=2e-3)


# --------------------------------------------------------------------------- gaps
def test_a_gap_between_batches_is_recorded():
    engine, *_ = warm_engine()
    engine.apply(batch(at(50), at(60)))  # nothing was delivered for (09:30:30, 09:30:50]
    engine.apply(batch(at(60), at(70)))  # contiguous: no new gap
    assert engine.books["SPY"].sampler.gaps == [(at(30), at(50))]


def test_feed_gap_status_events_are_recorded_as_gaps():
    engine, *_ = warm_engine()
    engine.apply(FeedStatus("gap_start", at(31), underlying="spy"))
    engine.apply(FeedStatus("gap_end", at(40), underlying="SPY"))
    engine.apply(FeedStatus("gap_end", at(50), underlying="SPY"))  # no open gap: ignored
    assert engine.books["SPY"].sampler.gaps == [(at(31), at(40))]


# --------------------------------------------------------------------------- immutable state
ARRAY_FIELDS = [name for name, f in ChainState.__dataclass_fields__.items() if f.type in ("np.ndarray", np.ndarray)]


def test_every_chain_state_array_field_is_listed():
    _, _, _, st = warm_engine()
    arrays = {k for k, v in vars(st).items() if isinstance(v, np.ndarray)}
    assert arrays == set(ARRAY_FIELDS) and len(arrays) > 30


@pytest.mark.parametrize("name", ARRAY_FIELDS)
def test_chain_state_arrays_are_read_only(name):
    engine, chain, q, _ = warm_engine()
    c = call_index(chain, 600.0)
    engine.apply(batch(at(30), at(45), trade_rows=[(at(40), c, q.ask[c], 10)]))
    arr = getattr(engine.state("SPY"), name)
    assert not arr.flags.writeable
    with pytest.raises(ValueError):
        arr[...] = arr


def test_state_is_cached_per_clock_and_recomputed_after_new_events():
    engine, chain, q, first = warm_engine()
    assert engine.state("SPY") is first
    engine.apply(batch(at(30), at(31), spot=[(at(30.5), 601.0)]))
    second = engine.state("SPY")
    assert second is not first and second.spot == 601.0 and first.spot == S0


def test_sampled_iv_is_the_quote_implied_vol():
    engine, chain, q, st = warm_engine()
    t = years_to_expiry(at(30), CLOSE_NS)
    mid = 0.5 * (q.bid + q.ask)
    expected = implied_vol(chain.is_call, mid, S0, chain.strikes, t, SPY_R, SPY_Q)
    smp = engine.books["SPY"].sampler
    np.testing.assert_allclose(smp.iv[1], expected, rtol=1e-5)
    np.testing.assert_allclose(st.iv, expected, rtol=1e-12)


@pytest.mark.parametrize("cut", [
    None,
    12_873.0,  # a batch ends between the two prints: the floor happens to apply in between
])
def test_effective_oi_floor_applies_print_by_print_whatever_the_batch_cuts(cut):
    """f = 0.55 of the session: P(open) is 0.482 before adjustments, so a mid print closes
    (p = 0.491, dOI = -1.8 per 100) and an at-ask print opens (p = 0.542, dOI = +8.4 per 100).
    On a contract with no open interest the close cannot remove anything: OI ends at +8.4."""
    chain = spy_chain(settled_oi=0)
    engine = new_engine(chain)
    c = call_index(chain, 600.0)
    q = bs_quotes(chain, at(12_860), S0)
    engine.apply(batch(at(12_859), at(12_861), spot=[(at(12_860), S0)], option_quotes=q))
    mid = float(0.5 * (q.bid[c] + q.ask[c]))
    rows = [(at(12_871), c, mid, 100), (at(12_875), c, float(q.ask[c]), 100)]
    cuts = [at(12_861), at(12_890)] if cut is None else [at(12_861), at(cut), at(12_890)]
    feed(engine, cuts, [], [], rows)
    f_mid, f_ask = ((at(x) - OPEN_NS) / (CLOSE_NS - OPEN_NS) for x in (12_871, 12_875))
    p_mid = 0.5 * (0.68 - 0.36 * f_mid) + 0.25
    p_ask = 0.68 - 0.36 * f_ask + 0.06
    assert 100 * (2 * p_mid - 1) < 0 < 100 * (2 * p_ask - 1)
    assert engine.state("SPY").effective_oi[c] == pytest.approx(100 * (2 * p_ask - 1), rel=1e-9)
