"""Scalar Black-Scholes-Merton reference: plain ``math``, one contract at a time, textbook formulas.

Deliberately naive (no vectorization, no numerical tricks) so that it can be read against a
textbook and used to check ``zdte_tui.engine.greeks``. Same units and sign conventions: theta and
charm are per year of calendar time *passing*; vega and vanna per 1.00 of volatility.
"""

from __future__ import annotations

import math


def norm_cdf(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def norm_pdf(z: float) -> float:
    return math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)


def d1_d2(S: float, K: float, t: float, r: float, q: float, sigma: float) -> tuple[float, float]:
    d1 = (math.log(S / K) + (r - q + 0.5 * sigma * sigma) * t) / (sigma * math.sqrt(t))
    return d1, d1 - sigma * math.sqrt(t)


def price(is_call: bool, S: float, K: float, t: float, r: float, q: float, sigma: float) -> float:
    d1, d2 = d1_d2(S, K, t, r, q, sigma)
    if is_call:
        return S * math.exp(-q * t) * norm_cdf(d1) - K * math.exp(-r * t) * norm_cdf(d2)
    return K * math.exp(-r * t) * norm_cdf(-d2) - S * math.exp(-q * t) * norm_cdf(-d1)


def greeks(is_call: bool, S: float, K: float, t: float, r: float, q: float, sigma: float) -> dict[str, float]:
    """price, delta, gamma, vega, theta, vanna, charm (Hull / Haug formulas, written out per side)."""
    d1, d2 = d1_d2(S, K, t, r, q, sigma)
    sqrt_t = math.sqrt(t)
    eq, er = math.exp(-q * t), math.exp(-r * t)
    pdf = norm_pdf(d1)
    gamma = eq * pdf / (S * sigma * sqrt_t)
    vega = S * eq * pdf * sqrt_t
    vanna = -eq * pdf * d2 / sigma
    charm_common = eq * pdf * (2.0 * (r - q) * t - d2 * sigma * sqrt_t) / (2.0 * t * sigma * sqrt_t)
    decay = -S * eq * pdf * sigma / (2.0 * sqrt_t)
    if is_call:
        delta = eq * norm_cdf(d1)
        theta = decay - r * K * er * norm_cdf(d2) + q * S * eq * norm_cdf(d1)
        charm = q * eq * norm_cdf(d1) - charm_common
    else:
        delta = -eq * norm_cdf(-d1)
        theta = decay + r * K * er * norm_cdf(-d2) - q * S * eq * norm_cdf(-d1)
        charm = -q * eq * norm_cdf(-d1) - charm_common
    return {
        "price": price(is_call, S, K, t, r, q, sigma),
        "delta": delta,
        "gamma": gamma,
        "vega": vega,
        "theta": theta,
        "vanna": vanna,
        "charm": charm,
    }


def implied_vol_bisection(is_call: bool, target: float, S: float, K: float, t: float, r: float,
                          q: float, lo: float = 1e-4, hi: float = 20.0, steps: int = 200) -> float:
    """Plain bisection on sigma (price is increasing in sigma); NaN if target is outside [lo, hi]."""
    if not (price(is_call, S, K, t, r, q, lo) < target < price(is_call, S, K, t, r, q, hi)):
        return math.nan
    for _ in range(steps):
        mid = 0.5 * (lo + hi)
        if price(is_call, S, K, t, r, q, mid) < target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)
