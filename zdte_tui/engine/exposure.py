"""Dealer exposures in dollars, max pain, and the dealer delta and GEX of a chain re-priced at
hypothetical spots (hedging buckets). The gamma flip and the walls/magnet are row kernels in
:mod:`zdte_tui.engine.rows`.

Units (docs/model.md, "Exposures"): per contract of ``oi`` contracts with multiplier 100,
dealer sign ``d`` (+1 dealers long, -1 dealers short):

- GEX  = d * gamma * oi * 100 * S^2 * 0.01     $ of delta change per 1% spot move
- DEX  = d * delta * oi * 100 * S              $ of delta held
- VEX  = d * vanna * oi * 100 * S * 0.01       $ of delta change per +1 vol point
- CHEX = d * charm_per_hour * oi * 100 * S     $ of delta change per hour of time passing

Positive GEX means dealers are long gamma (they sell rallies and buy dips: dampening).
"""

from __future__ import annotations

import numpy as np

from zdte_tui.engine.greeks import bs_greeks

MULT = 100.0


def dealer_sign(is_call: np.ndarray, convention: str) -> np.ndarray:
    """Dealer position sign per contract under a static convention: ``long_calls_short_puts`` (default)
    gives +1 for calls and -1 for puts; ``short_calls_long_puts`` the opposite. (``customer_flow``
    positions are built from flow by the engine, not from a sign.)"""
    if convention == "short_calls_long_puts":
        return np.where(is_call, -1.0, 1.0)
    return np.where(is_call, 1.0, -1.0)


def gex_usd(gamma, position, spot):
    """Dealer GEX, $ per 1% move: gamma * position * 100 * S^2 * 0.01 (position signed, contracts)."""
    return gamma * position * MULT * spot * spot * 0.01


def dex_usd(delta, position, spot):
    """Dealer DEX, $: delta * position * 100 * S."""
    return delta * position * MULT * spot


def vex_usd(vanna, position, spot):
    """Dealer VEX, $ delta change per +1 vol point: vanna * position * 100 * S * 0.01."""
    return vanna * position * MULT * spot * 0.01


def chex_usd_per_hour(charm_per_hour, position, spot):
    """Dealer CHEX, $ delta change per hour: charm_per_hour * position * 100 * S."""
    return charm_per_hour * position * MULT * spot


def bs_gamma(S, K, t, r, q, sigma):
    """BSM gamma (per $1 per $1), same for calls and puts: e^{-qT} phi(d1) / (S sigma sqrt T).
    A lean twin of greeks.bs_greeks(...).gamma for the flip search (tested equal)."""
    with np.errstate(all="ignore"):
        vol = sigma * np.sqrt(t)
        d1 = (np.log(S / K) + (r - q + 0.5 * sigma * sigma) * t) / vol
        return np.exp(-q * t - 0.5 * d1 * d1) * 0.3989422804014327 / (S * vol)


def net_gex_over_spots(spots: np.ndarray, is_call, strikes, t, r, q, sigma, position) -> np.ndarray:
    """Net dealer GEX ($/1%) of the whole chain re-priced at each hypothetical spot (sticky-strike IV).

    A plain formula (gamma via :func:`bs_gamma`): the GEX-vs-spot profile, and the reference the
    tests check the engine's precomputed flip kernel (``rows._GammaKernel``) and flip search against."""
    spots = np.asarray(spots, dtype=np.float64)
    ok = np.isfinite(sigma) & (position != 0)
    if not ok.any():
        return np.zeros(len(spots))
    gam = bs_gamma(spots[:, None], strikes[ok][None, :], t, r, q, sigma[ok][None, :])
    return np.nan_to_num(gam) @ position[ok] * MULT * spots * spots * 0.01


def max_pain(strike_grid: np.ndarray, strikes: np.ndarray, is_call: np.ndarray, oi: np.ndarray) -> float | None:
    """Settlement price (among listed strikes) minimizing total intrinsic value paid to holders:
    sum_calls oi * max(P - K, 0) + sum_puts oi * max(K - P, 0).

    O(n) with cumulative sums over the sorted strike grid: at P = grid[j], calls pay
    P * sum_{K<=P} oi_c - sum_{K<=P} oi_c K and puts pay sum_{K>=P} oi_p K - P * sum_{K>=P} oi_p."""
    if len(strike_grid) == 0 or not np.any(oi > 0):
        return None
    k = np.searchsorted(strike_grid, strikes)
    n = len(strike_grid)
    oi = np.asarray(oi, dtype=np.float64)
    c_oi = np.bincount(k, weights=np.where(is_call, oi, 0.0), minlength=n)
    p_oi = np.bincount(k, weights=np.where(is_call, 0.0, oi), minlength=n)
    c_oik, p_oik = c_oi * strike_grid, p_oi * strike_grid
    calls = strike_grid * np.cumsum(c_oi) - np.cumsum(c_oik)
    puts = np.cumsum(p_oik[::-1])[::-1] - strike_grid * np.cumsum(p_oi[::-1])[::-1]
    return float(strike_grid[int(np.argmin(calls + puts))])


def dealer_delta_shares(spots: np.ndarray, is_call, strikes, t, r, q, sigma, position) -> np.ndarray:
    """Dealer book delta in shares at each hypothetical spot: sum(delta * position * 100)."""
    ok = np.isfinite(sigma) & (position != 0)
    if not ok.any():
        return np.zeros(len(spots))
    g = bs_greeks(is_call[ok][None, :], spots[:, None], strikes[ok][None, :], t, r, q, sigma[ok][None, :])
    return (np.nan_to_num(g.delta) * position[ok][None, :]).sum(axis=1) * MULT
