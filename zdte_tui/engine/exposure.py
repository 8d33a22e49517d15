"""Dealer exposures in dollars, levels (gamma flip, walls, magnet, max pain), hedging buckets.

Units (docs/model.md, "Exposures"): per contract of ``oi`` contracts with multiplier 100,
dealer sign ``d`` (+1 dealers long, -1 dealers short):

- GEX  = d * gamma * oi * 100 * S^2 * 0.01     $ of delta change per 1% spot move
- DEX  = d * delta * oi * 100 * S              $ of delta held
- VEX  = d * vanna * oi * 100 * S * 0.01       $ of delta change per +1 vol point
- CHEX = d * charm_per_hour * oi * 100 * S     $ of delta change per hour of time passing

Positive GEX means dealers are long gamma (they sell rallies and buy dips: dampening).
"""

from __future__ import annotations

from dataclasses import dataclass

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


def per_strike(strike_index: np.ndarray, n_strikes: int, values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Sum per-contract ``values`` into strikes (NaN treated as 0), optionally only where ``mask``."""
    v = np.nan_to_num(values, nan=0.0, posinf=0.0, neginf=0.0)
    if mask is not None:
        v = np.where(mask, v, 0.0)
    return np.bincount(strike_index, weights=v, minlength=n_strikes)


def bs_gamma(S, K, t, r, q, sigma):
    """BSM gamma (per $1 per $1), same for calls and puts: e^{-qT} phi(d1) / (S sigma sqrt T).
    A lean twin of greeks.bs_greeks(...).gamma for the flip search (tested equal)."""
    with np.errstate(all="ignore"):
        vol = sigma * np.sqrt(t)
        d1 = (np.log(S / K) + (r - q + 0.5 * sigma * sigma) * t) / vol
        return np.exp(-q * t - 0.5 * d1 * d1) * 0.3989422804014327 / (S * vol)


def net_gex_over_spots(spots: np.ndarray, is_call, strikes, t, r, q, sigma, position) -> np.ndarray:
    """Net dealer GEX ($/1%) of the whole chain re-priced at each hypothetical spot (sticky-strike IV)."""
    spots = np.asarray(spots, dtype=np.float64)
    ok = np.isfinite(sigma) & (position != 0)
    if not ok.any():
        return np.zeros(len(spots))
    gam = bs_gamma(spots[:, None], strikes[ok][None, :], t, r, q, sigma[ok][None, :])
    return np.nan_to_num(gam) @ position[ok] * MULT * spots * spots * 0.01


def gamma_flip(spot: float, is_call, strikes, t, r, q, sigma, position, *, grid_pct: float = 5.0,
               grid_points: int = 41, refine_steps: int = 3) -> tuple[float | None, str]:
    """Spot level where net dealer GEX crosses zero, nearest to ``spot``.

    Re-prices the whole chain (gamma of every contract, sticky-strike IV) on a grid of
    ``grid_points`` spots over +-``grid_pct``% of spot, takes the sign change nearest spot and
    refines it inside its bracket with ``refine_steps`` regula-falsi (Illinois) re-pricings.
    Returns (level, status): ``ok``; ``no_crossing_in_range`` (level None); ``no_data``.
    """
    if not np.isfinite(spot) or spot <= 0:
        return None, "no_data"
    grid = spot * (1.0 + np.linspace(-grid_pct, grid_pct, grid_points) / 100.0)
    net = net_gex_over_spots(grid, is_call, strikes, t, r, q, sigma, position)
    if not np.any(net):
        return None, "no_data"
    s = np.sign(net)
    idx = np.flatnonzero(s[1:] * s[:-1] < 0)
    if len(idx) == 0:
        return None, "no_crossing_in_range"
    x0s, x1s, y0s, y1s = grid[idx], grid[idx + 1], net[idx], net[idx + 1]
    cross = x0s - y0s * (x1s - x0s) / (y1s - y0s)
    j = int(np.argmin(np.abs(cross - spot)))
    a, b, fa, fb = float(x0s[j]), float(x1s[j]), float(y0s[j]), float(y1s[j])
    x = float(cross[j])
    side = 0
    for _ in range(refine_steps):
        fx = float(net_gex_over_spots(np.array([x]), is_call, strikes, t, r, q, sigma, position)[0])
        if fx == 0.0:
            return x, "ok"
        if (fx < 0) == (fa < 0):
            a, fa = x, fx
            if side == -1:
                fb *= 0.5
            side = -1
        else:
            b, fb = x, fx
            if side == 1:
                fa *= 0.5
            side = 1
        x = a - fa * (b - a) / (fb - fa)
    return float(x), "ok"


def max_pain(strike_grid: np.ndarray, strikes: np.ndarray, is_call: np.ndarray, oi: np.ndarray) -> float | None:
    """Settlement price (among listed strikes) minimizing total intrinsic value paid to holders:
    sum_calls oi * max(P - K, 0) + sum_puts oi * max(K - P, 0)."""
    if len(strike_grid) == 0 or not np.any(oi > 0):
        return None
    P = strike_grid[:, None]
    payout = np.where(is_call[None, :], np.maximum(P - strikes[None, :], 0.0),
                      np.maximum(strikes[None, :] - P, 0.0)) * oi[None, :]
    return float(strike_grid[int(np.argmin(payout.sum(axis=1)))])


@dataclass(frozen=True)
class Walls:
    call_wall: float | None
    call_wall_gex: float | None
    put_wall: float | None
    put_wall_gex: float | None
    magnet: float | None
    magnet_gex: float | None
    highest_oi_strike: float | None
    highest_oi_total: int | None
    max_positive_gamma: float | None
    max_negative_gamma: float | None


def walls(strike_grid, call_gex, put_gex, net_gex, total_oi, spot: float, band_dollars: float | None) -> Walls:
    """call wall = strike with the largest |call GEX|; put wall = largest |put GEX|;
    magnet = strike with the largest positive net GEX within ``band_dollars`` of spot (the remaining
    2-sigma move; whole chain if None), falling back to the largest |net GEX| there;
    highest-OI strike = largest call + put OI; max +/- gamma = strikes of the extreme net GEX."""
    if len(strike_grid) == 0:
        return Walls(*([None] * 10))

    def pick(values):
        if not np.any(values):
            return None, None
        i = int(np.argmax(np.abs(values)))
        return float(strike_grid[i]), float(values[i])

    cw, cwg = pick(call_gex)
    pw, pwg = pick(put_gex)
    near = np.ones(len(strike_grid), dtype=bool)
    if band_dollars is not None and np.isfinite(band_dollars) and band_dollars > 0:
        near = np.abs(strike_grid - spot) <= band_dollars
        if not near.any():
            near = np.abs(strike_grid - spot) == np.min(np.abs(strike_grid - spot))
    masked = np.where(near, net_gex, 0.0)
    mg = mgg = None
    if np.any(masked > 0):
        i = int(np.argmax(masked))
        mg, mgg = float(strike_grid[i]), float(net_gex[i])
    elif np.any(masked):
        i = int(np.argmax(np.abs(masked)))
        mg, mgg = float(strike_grid[i]), float(net_gex[i])
    ho = hot = None
    if np.any(total_oi > 0):
        i = int(np.argmax(total_oi))
        ho, hot = float(strike_grid[i]), int(round(float(total_oi[i])))
    mpos = float(strike_grid[int(np.argmax(net_gex))]) if np.any(net_gex > 0) else None
    mneg = float(strike_grid[int(np.argmin(net_gex))]) if np.any(net_gex < 0) else None
    return Walls(cw, cwg, pw, pwg, mg, mgg, ho, hot, mpos, mneg)


def dealer_delta_shares(spots: np.ndarray, is_call, strikes, t, r, q, sigma, position) -> np.ndarray:
    """Dealer book delta in shares at each hypothetical spot: sum(delta * position * 100)."""
    ok = np.isfinite(sigma) & (position != 0)
    if not ok.any():
        return np.zeros(len(spots))
    g = bs_greeks(is_call[ok][None, :], spots[:, None], strikes[ok][None, :], t, r, q, sigma[ok][None, :])
    return (np.nan_to_num(g.delta) * position[ok][None, :]).sum(axis=1) * MULT
