"""Real Cboe downloads (tests/data/cboe/, provenance in its README) against an independent computation.

The judge is written here from the published method (S. Perfiliev, "How to Calculate Gamma
Exposure and Zero Gamma Level", perfiliev.com/blog/how-to-calculate-gamma-exposure-and-zero-gamma-level):
per strike, GEX = Gamma x OI x 100 x S^2 x 0.01 with Cboe's own Gamma and Open Interest columns,
calls positive, puts negative. That is docs/model.md's unit already ($ of dealer delta per 1 % move),
so no conversion is needed. Its zero-gamma level re-prices every contract's gamma with Cboe's IV
column on a spot grid (scalar Black-Scholes from tests/engine/ref_bs.py). Max pain is a brute
force over strikes of the OI columns.

The engine is valued where Cboe valued its columns: at the time the quotes were struck, with the
spot zdte uses (parity or Last, as reported). Cboe's gamma columns are only a fair judge where they
are self-consistent (call and put gamma equal at a strike, as Black-Scholes requires); where Cboe
priced with a ``Last`` that disagrees with parity, the file is checked against a second independent
computation from the mids instead (bisection IV + textbook gamma).

Stated tolerances (measured values in tests/data/cboe/README.md):
* per-strike net GEX within 15 % of the largest |strike GEX|; total net GEX within 10 % of gross |GEX|;
* call and put walls equal (or a near tie: the two strikes' independent GEX within 5 %); max pain equal;
* gamma flip within 1 % of spot where the independent flip lies within 2 % of spot (the fixtures keep
  strikes within 2-5 % of spot, so farther crossings are outside what either side can see).
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest

from tests.engine import ref_bs
from zdte_tui import cli
from zdte_tui.engine.flow_engine import ChainState, FlowEngine
from zdte_tui.engine.params import EngineParams
from zdte_tui.market import calendar
from zdte_tui.market.calendar import ET
from zdte_tui.market.events import EventBatch, OptionQuotes, SpotTicks
from zdte_tui.service import FlowService
from zdte_tui.sources.cboe import CboeFormatError, CboeSnapshotSource, load_cboe_chain

DATA = Path(__file__).parents[2] / "data" / "cboe"
PER_STRIKE_TOL, NET_TOL, WALL_TIE, FLIP_TOL, FLIP_RANGE = 0.15, 0.10, 0.05, 0.01, 0.02

# file -> underlying, file time (ET), zone as written, expiry valued, projected, 0DTE, roots valued
REAL = {
    "spy_2023-09-14_1631.csv": ("SPY", (2023, 9, 14, 16, 31), "EDT", date(2023, 9, 15), True, True, ["SPY"]),
    "spx_2023-09-14_1631.csv": ("SPX", (2023, 9, 14, 16, 31), "EDT", date(2023, 9, 15), True, True, ["SPXW"]),
    "xsp_2023-09-14_1630.csv": ("XSP", (2023, 9, 14, 16, 30), "EDT", date(2023, 9, 15), True, True, ["XSP"]),
    "spx_2022-02-05_2009.csv": ("SPX", (2022, 2, 5, 20, 9), "EST", date(2022, 2, 7), True, True, ["SPXW"]),
    "ndx_2022-02-05_2026.csv": ("NDX", (2022, 2, 5, 20, 26), "EST", date(2022, 2, 7), True, True, ["NDXP"]),
    "spx_2022-06-11_2047.csv": ("SPX", (2022, 6, 11, 20, 47), "EDT", date(2022, 6, 13), True, True, ["SPXW"]),
    "spx_2022-07-12_1155.csv": ("SPX", (2022, 7, 12, 11, 55), "EDT", date(2022, 7, 12), False, True, ["SPXW"]),
    "spx_2023-06-09_1340.csv": ("SPX", (2023, 6, 9, 13, 40), "EDT", date(2023, 6, 9), False, True, ["SPXW"]),
    "qqq_2024-03-22_2146.csv": ("QQQ", (2024, 3, 22, 21, 46), "EDT", date(2024, 3, 25), True, True, ["QQQ"]),
    "spx_2024-11-11_0802.csv": ("SPX", (2024, 11, 11, 8, 2), "GMT-5", date(2024, 11, 11), True, True, ["SPXW"]),
    "spx_2023-12-09_1349.csv": ("SPX", (2023, 12, 9, 13, 49), "GMT-5", date(2023, 12, 11), True, True, ["SPXW"]),
    "spy_2025-05-16_1923.csv": ("SPY", (2025, 5, 16, 19, 23), "EDT", date(2025, 5, 19), True, True, ["SPY"]),
    "spy_2025-09-25_2105.csv": ("SPY", (2025, 9, 25, 21, 5), "EDT", date(2025, 10, 1), True, False, ["SPY"]),
}
# real downloads that cannot give 0DTE levels, and the one-line reason
UNUSABLE = {
    "spy_bad-date-line.csv": "line 3: unreadable date 'Date: 4 June 4, 3:15 PM EDT' (no 4-digit year)",
    "spx_2025-10-01_1801.csv": "AM-settled only: 2026-04-17",
    "spx_2023-04-05_1941.csv": "no 2023-04-06 contract has a bid/ask quote",
}


def _events(src):
    async def go():
        return [e async for e in src.events()]
    return asyncio.run(go())


def state_at_quote_time(src: CboeSnapshotSource) -> ChainState:
    """The engine valued where Cboe valued its columns: at the quotes' time, at zdte's spot."""
    defn, batch, *_ = _events(src)
    ts = int(src.plan.quote_time.timestamp()) * 10**9
    n = len(batch.quotes.bid)
    eng = FlowEngine(EngineParams(flip_grid_points=161), session_bounds=calendar.session_bounds_ns)
    eng.apply(dataclasses.replace(defn, iv_time_ns=None))
    eng.apply(EventBatch(underlying=batch.underlying, start_ns=ts - 1, end_ns=ts,
                         spot=SpotTicks(ts_ns=[ts], price=[src.spot.spot]),
                         quotes=OptionQuotes(ts_ns=np.full(n, ts, np.int64), contract=batch.quotes.contract,
                                             bid=batch.quotes.bid, ask=batch.quotes.ask,
                                             bid_size=batch.quotes.bid_size, ask_size=batch.quotes.ask_size)))
    return eng.state(batch.underlying)


def perfiliev(rows, S: float) -> dict[float, tuple[float, float]]:
    """Per strike (call GEX, put GEX) from Cboe's Gamma and Open Interest columns."""
    out: dict[float, list[float]] = {}
    for c in rows:
        g = c.gamma if math.isfinite(c.gamma) else 0.0
        side = out.setdefault(c.strike, [0.0, 0.0])
        side[0 if c.is_call else 1] += (1.0 if c.is_call else -1.0) * g * c.open_interest * 100 * S * S * 0.01
    return {k: (v[0], v[1]) for k, v in out.items()}


def perfiliev_flip(rows, S: float, t: float) -> float | None:
    """Zero of net GEX re-priced with Cboe's IV column on a 0.05 % spot grid, nearest spot."""
    live = [c for c in rows if c.iv > 0 and c.open_interest > 0]

    def net(x: float) -> float:
        return sum((1.0 if c.is_call else -1.0) * ref_bs.greeks(c.is_call, x, c.strike, t, 0.0, 0.0, c.iv)["gamma"]
                   * c.open_interest * 100 * x * x * 0.01 for c in live)

    grid = [S * (1 + i / 2000) for i in range(-100, 101)]
    vals = [net(x) for x in grid]
    cross = [grid[i] - vals[i] * (grid[i + 1] - grid[i]) / (vals[i + 1] - vals[i])
             for i in range(len(grid) - 1) if vals[i] * vals[i + 1] < 0]
    return min(cross, key=lambda x: abs(x - S)) if cross else None


def brute_max_pain(rows) -> float:
    strikes = sorted({c.strike for c in rows})
    pay = {p: sum(c.open_interest * (max(p - c.strike, 0) if c.is_call else max(c.strike - p, 0)) for c in rows)
           for p in strikes}
    return min(strikes, key=lambda p: pay[p])


def cboe_gammas_consistent(src) -> bool:
    """Cboe's call and put gamma agree (median within 5 %) at strikes within 1 % of spot."""
    S = src.spot.spot
    calls = {c.strike: c.gamma for c in src.rows if c.is_call}
    puts = {c.strike: c.gamma for c in src.rows if not c.is_call}
    d = [abs(calls[k] - puts[k]) / (0.5 * (calls[k] + puts[k])) for k in calls
         if k in puts and abs(k / S - 1) < 0.01 and calls[k] > 0 and puts[k] > 0]
    return bool(d) and float(np.median(d)) < 0.05


CONSISTENT = [f for f in REAL if cboe_gammas_consistent(CboeSnapshotSource(DATA / f))]


def test_the_fixture_set_covers_the_issue():
    assert {v[0] for v in REAL.values()} >= {"SPY", "SPX", "XSP", "QQQ", "NDX"}
    assert len(CONSISTENT) >= 10  # the files Cboe's own gamma columns can judge


@pytest.mark.parametrize("name", sorted(REAL))
def test_real_download_reads_and_plans(name):
    sym, when, zone, expiry, projected, zero_dte, roots = REAL[name]
    src = CboeSnapshotSource(DATA / name)
    assert src.chain.underlying == sym and src.chain.as_of == datetime(*when, tzinfo=ET)
    assert src.chain.time_zone == zone and src.chain.counts == {}
    assert (src.expiry, src.plan.projected, src.plan.zero_dte) == (expiry, projected, zero_dte)
    assert sorted({c.root for c in src.rows}) == roots
    assert src.label.startswith(f"DELAYED SNAPSHOT of {datetime(*when):%Y-%m-%d %H:%M} ET")
    if projected:
        assert f"- projected to the {src.plan.session.isoformat()} open" in src.label
    assert src.plan.session == (expiry if zero_dte else date(2025, 9, 26))  # next session: Fri 2025-09-26


@pytest.mark.parametrize("name", CONSISTENT)
def test_per_strike_gex_matches_perfiliev_from_cboes_columns(name):
    src = CboeSnapshotSource(DATA / name)
    st = state_at_quote_time(src)
    ind = perfiliev(src.rows, src.spot.spot)
    ks = st.strike_grid
    i_net = np.array([sum(ind[k]) for k in ks])
    e_net = st.call_gex + st.put_gex
    peak = np.abs(i_net).max()
    assert np.abs(e_net - i_net).max() <= PER_STRIKE_TOL * peak
    assert abs(e_net.sum() - i_net.sum()) <= NET_TOL * np.abs(i_net).sum()


@pytest.mark.parametrize("name", CONSISTENT)
def test_walls_and_max_pain_equal_the_independent_ones(name):
    src = CboeSnapshotSource(DATA / name)
    st = state_at_quote_time(src)
    ind = perfiliev(src.rows, src.spot.spot)
    w = st.walls
    # walls on their side of spot (docs/model.md, "Walls and magnet"); unrestricted maxima as their own fields
    for side, got, allowed in ((0, w.call_wall, lambda k: k >= st.spot), (1, w.put_wall, lambda k: k <= st.spot),
                               (0, w.max_call_gex_strike, lambda k: True), (1, w.max_put_gex_strike, lambda k: True)):
        cands = [k for k in ind if allowed(k)]
        best = max(cands, key=lambda k: abs(ind[k][side]))
        assert got == best or abs(abs(ind[got][side]) / abs(ind[best][side]) - 1) <= WALL_TIE, (side, got, best)
    assert st.max_pain == brute_max_pain(src.rows)


@pytest.mark.parametrize("name", CONSISTENT)
def test_gamma_flip_near_the_independent_zero_gamma_level(name):
    src = CboeSnapshotSource(DATA / name)
    st = state_at_quote_time(src)
    S = src.spot.spot
    t = (calendar.session_bounds(src.expiry)[1] - src.plan.quote_time).total_seconds() / (365 * 86400)
    ind = perfiliev_flip(src.rows, S, t)
    if ind is None or abs(ind / S - 1) > FLIP_RANGE:
        pytest.skip(f"the independent zero-gamma level is not within {FLIP_RANGE:.0%} of spot")
    assert st.gamma_flip is not None and abs(st.gamma_flip - ind) <= FLIP_TOL * S


def test_spx_third_friday_values_spxw_only_never_the_am_monthly():
    """2023-09-15 was a third Friday: the file lists AM-settled SPX and PM-settled SPXW rows at the
    same strikes. The 0DTE chain is SPXW's alone; the AM rows are counted, not merged."""
    name = "spx_2023-09-14_1631.csv"
    chain = load_cboe_chain(DATA / name)
    both = chain.for_expiry(date(2023, 9, 15))
    assert {c.root for c in both} == {"SPX", "SPXW"}
    src = CboeSnapshotSource(DATA / name)
    assert {c.root for c in src.rows} == {"SPXW"} and src.am_rows_excluded == 90
    assert len(src.rows) + 90 == len(both)
    assert src.counts == {"excluded:am_settled_rows": 90}
    k4500 = [c for c in src.rows if c.strike == 4500.0 and c.is_call]
    assert len(k4500) == 1 and k4500[0].symbol == "SPXW230915C04500000"  # one contract, not two summed
    info = src.snapshot_info["settlement"]
    assert info == {"roots": ["SPXW"], "style": "PM", "am_settled_rows_excluded": 90}


def test_stale_last_is_replaced_by_the_parity_spot_and_both_are_reported():
    """spy_2025-05-16_1923.csv: Last 589.25, but the near-the-money mids of the 2025-05-19 expiry
    imply a forward of 594.06 by put-call parity (593.90 spot at the default rate and SPY yield),
    far outside their ~$0.01-0.02 quotes: Last is stale. Valued at
    Last, Cboe-consistent gammas are lost (GEX off by more than the tolerance); at parity they agree."""
    src = CboeSnapshotSource(DATA / "spy_2025-05-16_1923.csv")
    s = src.spot
    assert s.last == 589.25 and s.parity == pytest.approx(594.06, abs=0.01) and s.used == "parity"
    assert s.tolerance < 0.10 and src.snapshot_info["spot"]["used"] == "parity"
    ind = perfiliev(src.rows, s.spot)
    at_parity = state_at_quote_time(src)
    stale = CboeSnapshotSource(DATA / "spy_2025-05-16_1923.csv")
    stale.spot = dataclasses.replace(stale.spot, used="last")  # what valuing at Last would give
    at_last = state_at_quote_time(stale)
    i_net = sum(sum(v) for v in ind.values())
    gross = sum(abs(sum(v)) for v in ind.values())
    assert abs(at_parity.net_gex - i_net) <= NET_TOL * gross
    assert abs(at_last.net_gex - i_net) > NET_TOL * gross


@pytest.mark.parametrize("name", sorted(set(REAL) - set(CONSISTENT)))
def test_where_cboes_gammas_disagree_the_engine_matches_an_independent_computation_from_the_mids(name):
    """Cboe priced these with a Last that parity contradicts (call and put gamma differ at one
    strike). Judge: bisection IV from each mid at the quotes' time + textbook gamma, at zdte's spot."""
    src = CboeSnapshotSource(DATA / name)
    assert src.spot.used == "parity"
    st = state_at_quote_time(src)
    S = src.spot.spot
    t = st.t_years
    expected: dict[float, float] = {}
    unpriced: set[float] = set()  # strikes where a mid gives no IV (the engine fills those from the smile)
    for c in src.rows:
        iv = math.nan
        if c.bid > 0 and c.ask >= c.bid:
            iv = ref_bs.implied_vol_bisection(c.is_call, 0.5 * (c.bid + c.ask), S, c.strike, t, st.r, st.q)
        if not math.isfinite(iv):
            unpriced.add(c.strike)
            continue
        g = ref_bs.greeks(c.is_call, S, c.strike, t, st.r, st.q, iv)["gamma"]
        gex = (1 if c.is_call else -1) * g * c.open_interest * 100 * S * S * 0.01
        expected[c.strike] = expected.get(c.strike, 0.0) + gex
    expected = {k: v for k, v in expected.items() if k not in unpriced}
    assert len(expected) >= 10
    got = dict(zip(st.strike_grid.tolist(), (st.call_gex + st.put_gex).tolist()))
    peak = max(abs(v) for v in expected.values())
    for k, v in expected.items():
        assert got[k] == pytest.approx(v, abs=0.02 * peak), k


@pytest.mark.parametrize("name", sorted(REAL))
def test_every_real_chain_gives_levels_through_the_cli(name, capsys):
    assert cli.main(["import-cboe", str(DATA / name), "--json"]) == 0
    out = capsys.readouterr()
    import json

    snap = json.loads(out.out)
    assert snap["levels"]["call_wall"] is not None and snap["levels"]["max_pain"] is not None
    meta = snap["metadata"]
    assert meta["source_label"].startswith("DELAYED SNAPSHOT of ")
    assert meta["delayed_snapshot"]["expiry"] == REAL[name][3].isoformat()
    assert len(snap["gex_profile"]["spots"]) == len(snap["gex_profile"]["net_gex"]) > 0
    assert out.err.startswith(f"cboe: {name}: ") and out.err.count("\n") == 1


@pytest.mark.parametrize("name", sorted(UNUSABLE))
def test_unusable_real_downloads_give_a_one_line_error_and_exit_2(name, capsys):
    assert cli.main(["import-cboe", str(DATA / name), "--json"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"zdte: error: {name}: ") and UNUSABLE[name] in err
    with pytest.raises(CboeFormatError):
        CboeSnapshotSource(DATA / name)


def test_projected_snapshot_through_the_service_is_labelled_and_dated_by_its_file():
    src = CboeSnapshotSource(DATA / "spx_2023-12-09_1349.csv")
    svc = FlowService(src).run_to_end()
    snap = svc.snapshot("SPX")
    label = "DELAYED SNAPSHOT of 2023-12-09 13:49 ET - projected to the 2023-12-11 open"
    assert snap["metadata"]["source_label"] == label and svc.status()["label"].startswith(label)
    assert snap["as_of"] == "2023-12-11T14:30:00Z" and snap["market_open"] is False
    assert snap["data_as_of"]["index_options_feed"] == "2023-12-09T18:49:00Z"  # never newer than the file
    assert snap["metadata"]["delayed_snapshot"]["quotes_struck_at"] == "2023-12-08T16:00:00-05:00"
