"""Specification of the incremental parts of a 30 s sample (docs/model.md, "Incremental samples"):
contracts summed into strikes by index arithmetic, and the gamma flip tracked from the previous
sample's level, which must give the full-grid answer to the refinement tolerance."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from zdte_tui.engine.rows import StrikeSums, gamma_flip_rows

from .conftest import PROPERTY
from .test_exposure import HOURS, Q, R, smooth_chain

FLIP_REL = 2e-6  # docs/model.md, "Incremental samples: tolerances"


# --------------------------------------------------------------------------- strike sums
def test_strike_sums_by_hand():
    # strikes 600 (call, put), 605 (call only), 600 (a second call); grid [600, 605]
    sums = StrikeSums(np.array([0, 0, 1, 0]), np.array([True, False, True, True]), 2)
    values = np.array([[1.0, 2.0, 4.0, 8.0],
                       [10.0, 20.0, 40.0, 80.0]])
    np.testing.assert_array_equal(sums.sided(values), [[9.0, 2.0, 4.0, 0.0], [90.0, 20.0, 40.0, 0.0]])
    np.testing.assert_array_equal(sums.total(values), [[11.0, 4.0], [110.0, 40.0]])


def test_strike_sums_of_a_listed_chain_place_each_contract_in_its_cell():
    # one call and one put a strike, puts listed first: a scatter, no sums
    sums = StrikeSums(np.array([1, 0, 1, 0]), np.array([False, False, True, True]), 2)
    assert sums.unique
    values = np.array([[1.0, 2.0, 4.0, 8.0]])
    np.testing.assert_array_equal(sums.sided(values), [[8.0, 2.0, 4.0, 1.0]])
    np.testing.assert_array_equal(sums.total(values), [[10.0, 5.0]])


def test_strike_sums_of_an_empty_chain_are_zero_rows():
    sums = StrikeSums(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool), 0)
    assert sums.total(np.zeros((3, 0))).shape == (3, 0)


@PROPERTY
@given(st.integers(1, 40), st.integers(0, 2**32 - 1))
def test_strike_sums_equal_a_one_hot_matrix_product(n_strikes, seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 3 * n_strikes + 1))
    index = rng.integers(0, n_strikes, n)
    is_call = rng.random(n) < 0.5
    values = rng.normal(0.0, 1e6, (5, n))
    onehot = np.zeros((n, n_strikes))
    onehot[np.arange(n), index] = 1.0
    sums = StrikeSums(index, is_call, n_strikes)
    np.testing.assert_allclose(sums.total(values), values @ onehot, rtol=1e-12, atol=1e-6)
    np.testing.assert_allclose(sums.sided(values)[:, 0::2], np.where(is_call, values, 0.0) @ onehot,
                               rtol=1e-12, atol=1e-6)
    np.testing.assert_allclose(sums.sided(values)[:, 1::2], np.where(is_call, 0.0, values) @ onehot,
                               rtol=1e-12, atol=1e-6)


# --------------------------------------------------------------------------- tracked flip
def flip(chain, prior=None):
    spot, strikes, _is_call, position, sigma, t = chain
    level, status = gamma_flip_rows(np.array([spot]), strikes, np.array([t]), R, Q, sigma[None, :],
                                    position[None, :], prior=None if prior is None else np.array([prior]))
    return float(level[0]), int(status[0])


def test_a_prior_at_the_flip_itself_gives_the_full_grid_level():
    spot, strikes, is_call = 600.0, np.array([605.0, 595.0]), np.array([True, False])
    chain = (spot, strikes, is_call, np.array([1000.0, -1000.0]), np.array([0.25, 0.25]), 6.5 * HOURS)
    full, status = flip(chain)
    assert status == 0
    tracked, tracked_status = flip(chain, prior=full)
    assert tracked_status == 0
    assert abs(tracked - full) <= FLIP_REL * spot


def test_a_prior_that_no_longer_brackets_a_crossing_falls_back_to_the_full_grid():
    # the only crossing is near 599.8; a prior 4 % away finds no crossing near itself
    spot, strikes, is_call = 600.0, np.array([605.0, 595.0]), np.array([True, False])
    chain = (spot, strikes, is_call, np.array([1000.0, -1000.0]), np.array([0.25, 0.25]), 6.5 * HOURS)
    full, _ = flip(chain)
    for prior in (spot * 1.04, spot * 0.97, spot * 2.0, spot * 0.1):
        tracked, status = flip(chain, prior=prior)
        assert status == 0 and abs(tracked - full) <= FLIP_REL * spot


def test_no_crossing_is_reported_alike_with_a_prior():
    chain = (600.0, np.array([600.0]), np.array([True]), np.array([100.0]), np.array([0.2]), 3 * HOURS)
    assert flip(chain, prior=601.0)[1] == flip(chain)[1] == 1


@PROPERTY
@given(smooth_chain, st.floats(-0.06, 0.06), st.floats(-3e-3, 3e-3))
def test_the_tracked_flip_equals_the_full_grid_flip(chain, prior_offset, spot_move):
    """Whatever the prior (near the flip, far from it, beyond the grid), the level and status are those
    of the full grid to FLIP_REL of spot: the window decides as the grid does and the refinement
    stops by the same rule. (Two crossings inside one grid step are invisible to both.)"""
    spot = chain[0]
    full, status = flip(chain)
    full_prior = full if np.isfinite(full) else spot
    for prior in (full_prior * (1.0 + spot_move), spot * (1.0 + prior_offset)):
        tracked, tracked_status = flip(chain, prior=prior)
        assert tracked_status == status
        if status == 0:
            assume(_isolated(chain, full))
            assert abs(tracked - full) <= FLIP_REL * spot, (tracked, full, prior)


def _isolated(chain, level) -> bool:
    """No second sign change within one 0.25 % grid step of ``level`` (the grid cannot tell them apart)."""
    from zdte_tui.engine.exposure import net_gex_over_spots
    spot, strikes, is_call, position, sigma, t = chain
    xs = level + spot * np.linspace(-0.0025, 0.0025, 201)
    net = net_gex_over_spots(xs, is_call, strikes, t, R, Q, sigma, position)
    s = np.sign(net)
    return int((s[1:] * s[:-1] < 0).sum()) <= 1


@PROPERTY
@given(smooth_chain, st.floats(-0.04, 0.04))
def test_the_slope_of_net_gex_used_by_newton_matches_a_central_difference(chain, offset):
    from zdte_tui.engine.rows import _GammaKernel

    spot, strikes, _is_call, position, sigma, t = chain
    kernel = _GammaKernel(strikes, np.array([t]), R, Q, sigma[None, :], position[None, :])
    x = spot * (1.0 + offset)
    h = x * 1e-6
    value, slope = kernel.net_gex_and_slope(np.array([x]), np.array([0]))
    up, down = kernel.net_gex(np.array([[x + h, x - h]]))[0]
    assert value[0] == pytest.approx(kernel.net_gex(np.array([[x]]))[0, 0], rel=1e-12, abs=1e-6)
    scale = max(abs(up), abs(down), 1.0) / h  # the difference's rounding error is ~1e-16 of this
    assert slope[0] == pytest.approx((up - down) / (2 * h), rel=1e-4, abs=1e-9 * scale)


def test_a_single_row_is_refined_like_a_row_among_many():
    # the one-row refinement keeps its bracket in Python floats; two copies of the row take the
    # vectorized path: same decision, same arithmetic per evaluation, same stopping rule
    spot, strikes = 600.0, np.array([605.0, 595.0])
    position, sigma, t = np.array([1000.0, -1000.0]), np.array([0.25, 0.25]), 6.5 * HOURS
    for prior in (None, 599.0, 640.0):
        pr = None if prior is None else np.array([prior])
        one, st_one = gamma_flip_rows(np.array([spot]), strikes, np.array([t]), R, Q, sigma[None, :],
                                      position[None, :], prior=pr)
        two, st_two = gamma_flip_rows(np.array([spot, spot]), strikes, np.array([t, t]), R, Q,
                                      np.vstack([sigma, sigma]), np.vstack([position, position]),
                                      prior=None if pr is None else np.r_[pr, pr])
        assert st_one[0] == st_two[0] == st_two[1] == 0
        assert one[0] == pytest.approx(two[0], rel=1e-12) and two[0] == two[1]


@PROPERTY
@given(smooth_chain, st.floats(-0.06, 0.06))
def test_one_row_and_the_vectorized_rows_give_the_same_flip(chain, prior_offset):
    spot, strikes, _is_call, position, sigma, t = chain
    prior = np.array([spot * (1.0 + prior_offset)])
    one, st_one = gamma_flip_rows(np.array([spot]), strikes, np.array([t]), R, Q, sigma[None, :], position[None, :],
                                  prior=prior)
    many, st_many = gamma_flip_rows(np.full(3, spot), strikes, np.full(3, t), R, Q, np.tile(sigma, (3, 1)),
                                    np.tile(position, (3, 1)), prior=np.repeat(prior, 3))
    assert (st_many == st_one[0]).all()
    np.testing.assert_allclose(many, one[0], rtol=1e-12)


# --------------------------------------------------------------------------- exposure rows
@PROPERTY
@given(st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_exposure_rows_are_the_exposure_formulas_summed_into_strikes(m, seed):
    """rows.exposure_rows takes the per-row dollar factors once; it must equal exposure.py's
    GEX/DEX/VEX/CHEX contract by contract, summed per strike (calls and puts apart for GEX/DEX)."""
    from zdte_tui.engine.exposure import chex_usd_per_hour, dex_usd, gex_usd, vex_usd
    from zdte_tui.engine.rows import GreekRows, exposure_rows

    rng = np.random.default_rng(seed)
    n_strikes = int(rng.integers(1, 20))
    index = np.repeat(np.arange(n_strikes), 2)
    is_call = np.tile([True, False], n_strikes)
    n = len(index)
    gamma, delta, vanna, charm = (rng.normal(0.0, 1.0, (m, n)) for _ in range(4))
    gamma[rng.random((m, n)) < 0.1] = np.nan  # no greeks there: no exposure
    nan = np.full((m, n), np.nan)
    g = GreekRows(nan, nan, nan, delta, gamma, nan, nan, vanna, charm)
    position, settled = rng.normal(0.0, 500.0, (m, n)), rng.normal(0.0, 500.0, n)
    spot = rng.uniform(50.0, 6000.0, m)
    ex = exposure_rows(g, position, settled[None, :], spot, StrikeSums(index, is_call, n_strikes))
    fin = np.isfinite(gamma)
    S = spot[:, None]
    gam, dlt, van, chm = (np.where(fin, a, 0.0) for a in (gamma, delta, vanna, charm))
    onehot = np.zeros((n, n_strikes))
    onehot[np.arange(n), index] = 1.0
    calls, puts = onehot * is_call[:, None], onehot * ~is_call[:, None]

    def close(actual, expected):
        np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-9 * max(1.0, np.abs(expected).max()))

    close(ex.call_gex, gex_usd(gam, position, S) @ calls)
    close(ex.put_gex, gex_usd(gam, position, S) @ puts)
    close(ex.call_dex, dex_usd(dlt, position, S) @ calls)
    close(ex.put_dex, dex_usd(dlt, position, S) @ puts)
    close(ex.vex, vex_usd(van, position, S) @ onehot)
    close(ex.chex, chex_usd_per_hour(chm, position, S) @ onehot)
    close(ex.call_gex_settled, gex_usd(gam, settled, S) @ calls)
    close(ex.put_gex_settled, gex_usd(gam, settled, S) @ puts)
    close(ex.dex_settled, dex_usd(dlt, settled, S) @ onehot)


# --------------------------------------------------------------------------- NBBO in force at a sample
def test_asof_rows_by_hand():
    # contract 0 quoted at t=1 and t=3, contract 2 at t=2; contract 1 keeps its prior value
    from zdte_tui.engine.rows import asof_rows

    ts, contract, bid = np.array([1, 2, 3]), np.array([0, 2, 0]), np.array([1.0, 2.0, 3.0])
    prior = (np.array([9.0, 8.0, 7.0]),)
    (after_all,) = asof_rows(np.array([5]), ts, contract, (bid,), prior)
    np.testing.assert_array_equal(after_all, [[3.0, 8.0, 2.0]])
    (rows,) = asof_rows(np.array([0, 2, 5]), ts, contract, (bid,), prior)
    np.testing.assert_array_equal(rows, [[9.0, 8.0, 7.0], [1.0, 8.0, 2.0], [3.0, 8.0, 2.0]])


@PROPERTY
@given(st.integers(1, 30), st.integers(0, 200), st.integers(0, 2**32 - 1))
def test_asof_rows_after_every_event_equals_the_general_search(n, k, seed):
    """One time at or after every event (a 30 s batch that ends at its sample) takes the last event
    of each contract directly; it must equal the row the (contract, time) search gives."""
    from zdte_tui.engine.rows import asof_rows

    rng = np.random.default_rng(seed)
    ts = np.sort(rng.integers(0, 50, k))  # ties included
    contract = rng.integers(0, n, k)
    values = (rng.normal(size=k), rng.normal(size=k))
    prior = (rng.normal(size=n), rng.normal(size=n))
    t = int(ts.max()) + int(rng.integers(0, 3)) if k else 0
    one = asof_rows(np.array([t]), ts, contract, values, prior)
    general = asof_rows(np.array([t, t]), ts, contract, values, prior)  # two rows: the searchsorted path
    for a, b in zip(one, general):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(b[0], b[1])


@PROPERTY
@given(st.integers(1, 12), st.integers(0, 80), st.integers(1, 6), st.integers(0, 2**32 - 1))
def test_asof_rows_equal_a_scan_of_every_event(n, k, m, seed):
    """Brute force: for each time and contract, the last event at or before the time (ties in
    input order), else the prior; times in any order, events time-sorted as in a batch."""
    from zdte_tui.engine.rows import asof_rows

    rng = np.random.default_rng(seed)
    ts = np.sort(rng.integers(0, 40, k))
    contract = rng.integers(0, n, k)
    value = rng.normal(size=k)
    prior = rng.normal(size=n)
    times = rng.integers(-2, 45, m)
    (got,) = asof_rows(times, ts, contract, (value,), (prior,))
    want = np.tile(prior, (m, 1))
    for i, t in enumerate(times):
        for j in range(k):
            if ts[j] <= t:
                want[i, contract[j]] = value[j]
    np.testing.assert_array_equal(got, want)
