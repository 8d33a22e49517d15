"""Vectorized Black-Scholes-Merton prices, greeks and implied volatility.

Conventions (see docs/greeks.md for every formula):

* ``t`` is time to expiry in years on a calendar-year clock, ``t = seconds / (365 * 86400)``
  (:func:`years_to_expiry`); ``r`` and ``q`` are annual continuously compounded rate and dividend
  yield; ``sigma`` is annual volatility as a fraction (0.20 = 20 vol points).
* price in $ per share; delta per $1 of spot; gamma per $1 per $1; vega and vanna per 1.00 of
  volatility (100 vol points); theta and charm per year of calendar time *passing* (so theta of a
  long vanilla is normally negative and charm = -dDelta/dT).
* Every argument broadcasts; ``is_call`` is a bool array. Invalid inputs give NaN, never an
  exception or a warning.

Pure numpy/scipy: no I/O, no clock, no per-contract Python loop.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .special import erfcx, ndtr, ndtri

__all__ = [
    "HOURS_PER_YEAR",
    "SECONDS_PER_YEAR",
    "MIN_TIME_TO_EXPIRY_SECONDS",
    "MIN_IMPLIED_VOL",
    "MAX_IMPLIED_VOL",
    "Greeks",
    "years_to_expiry",
    "bs_price",
    "bs_greeks",
    "bs_greeks_checked",
    "implied_vol",
    "charm_per_hour",
]

HOURS_PER_YEAR = 365.0 * 24.0
SECONDS_PER_YEAR = 365.0 * 86400.0
MIN_TIME_TO_EXPIRY_SECONDS = 60.0  # documented floor: greeks at the bell stay finite

MIN_IMPLIED_VOL = 1e-4  # implied_vol reports NaN when the root lies outside [MIN, MAX]
MAX_IMPLIED_VOL = 20.0

_INV_SQRT_2PI = 0.3989422804014327  # 1 / sqrt(2 pi)
_SQRT_2_OVER_PI = 0.7978845608028654  # sqrt(2 / pi)
_INV_SQRT_2 = 0.7071067811865476
_SQRT_3 = 1.7320508075688772
_TWO_PI_OVER_SQRT_27 = 1.2091995761561452  # 2 pi / sqrt(27)
_EPS = float(np.finfo(np.float64).eps)
_TWO_PI = 6.283185307179586
_PI_OVER_6 = 0.5235987755982988


class Greeks(NamedTuple):
    """BSM value and sensitivities, each a float64 array of the inputs' broadcast shape.

    Units: price $/share; delta per $1 spot; gamma per $1 per $1; vega and vanna per 1.00 vol;
    theta and charm per year of calendar time passing.
    """

    price: NDArray[np.float64]
    delta: NDArray[np.float64]
    gamma: NDArray[np.float64]
    vega: NDArray[np.float64]
    theta: NDArray[np.float64]
    vanna: NDArray[np.float64]
    charm: NDArray[np.float64]


def years_to_expiry(
    now_ns: ArrayLike, close_ns: ArrayLike, floor_seconds: float = MIN_TIME_TO_EXPIRY_SECONDS
) -> float | NDArray[np.float64]:
    """Calendar-year time to expiry: ``max(close_ns - now_ns, floor) / 1e9 / SECONDS_PER_YEAR``.

    Both clocks are int64 nanoseconds since the epoch; the difference is taken in integers, so it
    keeps sub-second precision. Past the close (or within ``floor_seconds`` of it) the result is
    the floor. Returns a float for scalar inputs, else an ndarray.
    """
    now = np.asarray(now_ns, dtype=np.int64)
    close = np.asarray(close_ns, dtype=np.int64)
    seconds = np.subtract(close, now, dtype=np.int64) / 1e9
    years = np.maximum(seconds, float(floor_seconds)) / SECONDS_PER_YEAR
    if np.ndim(years) == 0:
        return float(years)
    return years


def _shape_of(*arrays: np.ndarray) -> tuple:
    """np.broadcast_shapes of the arrays' shapes, without its cost (~7 us) when they are all alike or
    single values (the engine's calls)."""
    shapes = {a.shape for a in arrays}
    shapes.discard(())
    if len(shapes) <= 1:
        return shapes.pop() if shapes else ()
    return np.broadcast_shapes(*shapes)


def _nan(shape) -> np.ndarray:
    """np.full(shape, NaN) in two cheaper calls."""
    out = np.empty(shape)
    out.fill(np.nan)
    return out


def _as_float(a: ArrayLike) -> NDArray[np.float64]:
    return np.asarray(a, dtype=np.float64)


def _sign_of_option(is_call: ArrayLike) -> NDArray[np.float64]:
    """omega = +1 for a call, -1 for a put."""
    return np.where(np.asarray(is_call, dtype=bool), 1.0, -1.0)


def _finalize(arrays: tuple, shape: tuple, valid: NDArray[np.bool_] | None) -> list:
    """Broadcast every output to ``shape`` (writable, float64) and blank invalid entries."""
    out = []
    for a in arrays:
        a = np.asarray(a, dtype=np.float64)
        if a.shape != shape:
            a = np.array(np.broadcast_to(a, shape))
        if valid is not None:
            a[~valid] = np.nan
        out.append(a)
    return out


def _usable(positive: tuple, finite: tuple) -> NDArray[np.bool_] | bool:
    """``isfinite & > 0`` of every array in ``positive`` and ``isfinite`` of those in ``finite``, ANDed
    (broadcast). Single values are tested in Python (the engine passes spot, t, r and q as such), so
    only real arrays cost numpy calls; False when a single value fails."""
    mask: NDArray[np.bool_] | bool = True
    for arrays, need_positive in ((positive, True), (finite, False)):
        for a in arrays:
            if a.size == 1:
                v = float(a.reshape(-1)[0])
                if not (math.isfinite(v) and (v > 0.0 or not need_positive)):
                    return False
                continue
            ok = np.isfinite(a)
            if need_positive:
                ok &= a > 0.0
            mask = ok if mask is True else mask & ok
    return mask


def _valid_mask(shape: tuple, S, K, t, r, q, sigma) -> NDArray[np.bool_] | None:
    """None when every entry is usable, else the broadcast bool mask of usable entries."""
    valid = _usable((S, K, t, sigma), (r, q))
    if valid is True or (valid is not False and np.all(valid)):
        return None
    return np.broadcast_to(np.asarray(valid), shape)


def _core(is_call, S, K, t, r, q, sigma, with_greeks: bool):
    is_call = np.asarray(is_call, dtype=bool)
    S, K, t, r, q, sigma = (_as_float(a) for a in (S, K, t, r, q, sigma))
    shape = _shape_of(is_call, S, K, t, r, q, sigma)
    with np.errstate(all="ignore"):
        valid = _valid_mask(shape, S, K, t, r, q, sigma)
        omega = _sign_of_option(is_call)
        sqrt_t = np.sqrt(t)
        total_vol = sigma * sqrt_t  # sigma * sqrt(T)
        d1 = (np.log(S / K) + (r - q + 0.5 * sigma * sigma) * t) / total_vol
        d2 = d1 - total_vol
        div_discount = np.exp(-q * t)  # e^{-qT}
        spot_disc = S * div_discount  # S e^{-qT}
        strike_disc = K * np.exp(-r * t)  # K e^{-rT}
        n_d1 = ndtr(omega * d1)  # N(omega d1)
        n_d2 = ndtr(omega * d2)  # N(omega d2)
        price = omega * (spot_disc * n_d1 - strike_disc * n_d2)
        if not with_greeks:
            return _finalize((price,), shape, valid)[0]
        pdf_d1 = np.exp(-0.5 * d1 * d1) * _INV_SQRT_2PI  # phi(d1)
        disc_pdf = div_discount * pdf_d1  # e^{-qT} phi(d1)
        delta = omega * div_discount * n_d1
        gamma = disc_pdf / (S * total_vol)
        vega = spot_disc * pdf_d1 * sqrt_t
        theta = (
            -spot_disc * pdf_d1 * sigma / (2.0 * sqrt_t)
            - omega * r * strike_disc * n_d2
            + omega * q * spot_disc * n_d1
        )
        vanna = -disc_pdf * d2 / sigma
        charm = omega * q * div_discount * n_d1 - disc_pdf * (
            2.0 * (r - q) * t - d2 * total_vol
        ) / (2.0 * t * total_vol)
        return Greeks(*_finalize((price, delta, gamma, vega, theta, vanna, charm), shape, valid))


def bs_price(is_call: ArrayLike, S: ArrayLike, K: ArrayLike, t: ArrayLike, r: ArrayLike,
             q: ArrayLike, sigma: ArrayLike) -> NDArray[np.float64]:
    """BSM value, $/share: ``omega (S e^{-qT} N(omega d1) - K e^{-rT} N(omega d2))``.

    ``d1 = (ln(S/K) + (r - q + sigma^2/2) T) / (sigma sqrt T)``, ``d2 = d1 - sigma sqrt T``,
    omega = +1 call / -1 put. NaN where any input is non-finite or S, K, t, sigma <= 0.
    """
    return _core(is_call, S, K, t, r, q, sigma, with_greeks=False)


def bs_greeks(is_call: ArrayLike, S: ArrayLike, K: ArrayLike, t: ArrayLike, r: ArrayLike,
              q: ArrayLike, sigma: ArrayLike) -> Greeks:
    """Value and greeks in one pass (formulas in docs/greeks.md), NaN on invalid inputs.

    delta = omega e^{-qT} N(omega d1); gamma = e^{-qT} phi(d1) / (S sigma sqrt T);
    vega = S e^{-qT} phi(d1) sqrt T; theta = -S e^{-qT} phi(d1) sigma / (2 sqrt T)
    - omega r K e^{-rT} N(omega d2) + omega q S e^{-qT} N(omega d1);
    vanna = -e^{-qT} phi(d1) d2 / sigma;
    charm = omega q e^{-qT} N(omega d1) - e^{-qT} phi(d1) (2 (r-q) T - d2 sigma sqrt T) / (2 T sigma sqrt T).
    """
    return _core(is_call, S, K, t, r, q, sigma, with_greeks=True)


def bs_greeks_checked(omega: NDArray[np.float64], S, K: NDArray[np.float64], t, r: float, q: float,
                      sigma: NDArray[np.float64], *, vega_theta: bool = True, parts: dict | None = None) -> tuple:
    """:func:`bs_greeks` for a caller that has checked its inputs, without the price: ``omega`` = +1 call /
    -1 put (float), ``K`` finite and > 0, ``S`` and ``t`` finite and > 0 (numbers, or columns that
    broadcast against ``sigma``), ``r`` and ``q`` finite numbers, ``sigma`` > 0 or NaN (NaN gives NaN
    greeks). The same operations in the same order as bs_greeks, so the same bits. Returns
    ``(delta, gamma, vega, theta, vanna, charm)``; vega and theta are None unless ``vega_theta``
    (a live sample needs neither). ``parts`` (a dict): receives ``total_vol`` = sigma sqrt t and ``drift``
    = (r - q + sigma^2/2) t, for a caller that reuses them (the flip kernel)."""
    a = np.asarray  # numbers as 0-d arrays (see _c); the arithmetic is the same
    with np.errstate(all="ignore"):
        S, t = a(S, dtype=np.float64), a(t, dtype=np.float64)
        sqrt_t = a(np.sqrt(t))
        total_vol = sigma * sqrt_t
        drift = (a(r - q) + _HALF * sigma * sigma) * t
        d1 = (np.log(S / K) + drift) / total_vol
        if parts is not None:
            parts["total_vol"], parts["drift"] = total_vol, drift
        d2 = d1 - total_vol
        div_discount = a(np.exp(-q * t))
        n_d1 = ndtr(omega * d1)
        pdf_d1 = np.exp(_MINUS_HALF * d1 * d1) * _INV_SQRT_2PI_0D
        disc_pdf = div_discount * pdf_d1
        delta = omega * div_discount * n_d1
        gamma = disc_pdf / (S * total_vol)
        vanna = -disc_pdf * d2 / sigma
        charm = (omega * a(q) * div_discount * n_d1
                 - disc_pdf * (a(2.0 * (r - q) * t) - d2 * total_vol) / (a(2.0 * t) * total_vol))
        vega = theta = None
        if vega_theta:
            spot_disc = a(S * div_discount)
            strike_disc = K * a(np.exp(-r * t))
            n_d2 = ndtr(omega * d2)
            vega = spot_disc * pdf_d1 * sqrt_t
            theta = (-spot_disc * pdf_d1 * sigma / a(2.0 * sqrt_t) - omega * a(r) * strike_disc * n_d2
                     + omega * a(q) * spot_disc * n_d1)
    return delta, gamma, vega, theta, vanna, charm


def charm_per_hour(charm_per_year: ArrayLike) -> NDArray[np.float64]:
    """Charm per hour of calendar time passing: ``charm_per_year / HOURS_PER_YEAR``."""
    return np.asarray(charm_per_year, dtype=np.float64) / HOURS_PER_YEAR


# --------------------------------------------------------------------------------------------
# Implied volatility
#
# Everything is reduced to one problem, the *normalised out-of-the-money call*
#     b(x, s) = e^{x/2} N(x/s + s/2) - e^{-x/2} N(x/s - s/2),   x = -|ln(F/K)| <= 0,  s = sigma sqrt T,
# which equals (OTM-equivalent premium) / (e^{-rT} sqrt(F K)) for calls and puts alike (put-call
# parity strips the intrinsic part). b rises in s from 0 to e^{x/2}; it is convex below
# s_c = sqrt(2|x|) and concave above. Following Jaeckel ("Let's be rational", 2015) the target
# beta falls in one of three branches:
#   lower  beta < b_l = b(s_l), s_l = where the tangent at s_c meets zero: solve 1/ln b = 1/ln beta,
#          starting from the closed-form inverse of the "lower map";
#   middle b_l <= beta < b(s_c): solve b = beta from an interpolated start;
#   upper  beta >= b(s_c): solve b = beta from the inverse of the large-s asymptote.
# Each branch takes third-order Householder steps inside a bracket that every evaluation tightens;
# a step that leaves the bracket is replaced by a geometric bisection.
# --------------------------------------------------------------------------------------------

def _c(value: float) -> np.ndarray:
    """``value`` as a read-only 0-d float64 array. As an operand of a float64 array it gives the bits of
    the Python float, and numpy skips the dtype resolution of a Python scalar (~0.4 us of a ~1 us call
    on a live sample's arrays): the solver's and the greeks' constants are kept this way."""
    a = np.array(value, dtype=np.float64)
    a.setflags(write=False)
    return a


_0, _1, _2, _3, _6 = _c(0.0), _c(1.0), _c(2.0), _c(3.0), _c(6.0)
_HALF, _QUARTER, _MINUS_HALF, _NAN_0D = _c(0.5), _c(0.25), _c(-0.5), _c(np.nan)
_INV_SQRT_2PI_0D = _c(_INV_SQRT_2PI)

_POLISH_BASIN = 1e-4  # relative premium error from which one Householder step is final
_DEEP_D1 = -20.0  # below this d1 the lower branch switches to the underflow-free erfcx form of b
_DEEP_D1_0D = _c(_DEEP_D1)


def _householder3(newton, halley, hh3):
    """Third-order Householder step from the Newton step, g''/g' and g'''/g' (Newton if unusable)."""
    step = newton * (_1 + _HALF * halley * newton) / (_1 + newton * (halley + hh3 * newton / _6))
    return np.where(step * newton > _0, step, newton)  # also rejects NaN


def _lower_guess(x: NDArray, beta: NDArray, b_l: NDArray, s_l: NDArray) -> NDArray:
    """Start for beta < b_l from Jaeckel's lower map (Let's be rational, section 4).

    f(s) = 2 pi |x| / sqrt(27) N(-z)^3, z = |x| / (sqrt(3) s), is nearly the identity as a function
    of beta (f(0) = 0, f'(0) = 1). Interpolate f(beta) on [0, b_l] with a convex rational cubic that
    matches f, f' and f'' at b_l, then invert f in closed form.
    """
    ax = -x
    norm = _TWO_PI_OVER_SQRT_27 * ax
    z = ax / (_SQRT_3 * s_l)
    y = z * z
    s2 = s_l * s_l
    tail = ndtr(-z)  # N(-z)
    f_l = norm * tail**3
    growth = np.exp(y + 0.125 * s2)
    df_l = _TWO_PI * y * tail * tail * growth  # df/dbeta at b_l
    mills = tail / (np.exp(-0.5 * y) * _INV_SQRT_2PI)  # N(-z) / phi(z)
    d2f_l = (_PI_OVER_6 * y / (s2 * s_l) * tail * growth * growth
             * (8.0 * _SQRT_3 * s_l * ax + (3.0 * s2 * (s2 - 8.0) - 8.0 * ax * ax) * mills))
    # rational cubic control parameter fitting f'' at b_l, floored to keep the interpolant convex
    slope = f_l / b_l
    r = (0.5 * b_l * d2f_l + (df_l - 1.0)) / (slope - 1.0)
    r_min = np.maximum((df_l + 1.0) / slope,
                       np.maximum(np.abs((df_l - 1.0) / (df_l - slope)), np.abs((df_l - 1.0) / (slope - 1.0))))
    r = np.maximum(r, r_min)
    t = beta / b_l
    omt = 1.0 - t
    f = ((f_l * t + (r * f_l - b_l * df_l) * omt) * t * t + b_l * t * omt * omt) / (1.0 + (r - 3.0) * t * omt)
    quadratic = (f_l * t + b_l * omt) * t  # fallback through f(0) = 0, f'(0) = 1, f(b_l)
    f = np.where((f > 0.0) & np.isfinite(f), f, quadratic)
    return ax / (_SQRT_3 * -ndtri(np.cbrt(f / norm)))


def _upper_guess(half: NDArray, beta: NDArray) -> NDArray:
    """Start for beta >= b(s_c): invert e^{x/2} - b ~ (e^{x/2} + e^{-x/2}) N(-s/2) (exact at x = 0)."""
    return -2.0 * ndtri((half - beta) / (half + 1.0 / half))


def _derivative_ratios(x_over_s, s):
    """b''/b' = d1 d2 / s and b'''/b' for the normalised call."""
    b_h2 = x_over_s * x_over_s / s - _QUARTER * s
    b_h3 = b_h2 * b_h2 - _3 * (x_over_s / s) ** 2 - _QUARTER
    return b_h2, b_h3


def _step(x, half, s, target):
    """(signed relative error, third-order Householder step) of each element's branch, in one pass.

    ``target`` is ln(beta) < 0 for the lower branch and beta > 0 for the middle and upper ones (beta
    < 1 always, so its sign tells them apart). Lower: error ln b - ln beta, step on
    g = 1/ln b - 1/ln beta; where d1 < _DEEP_D1, b = exp(-(x^2/s^2 + s^2/4)/2) (erfcx(-d1/sqrt2) -
    erfcx(-d2/sqrt2)) / 2, which cannot underflow however far out of the money. Middle and upper:
    error b / beta - 1, step on g = b - beta.
    """
    x_over_s = x / s
    d1 = x_over_s + 0.5 * s
    d2 = d1 - s
    b = half * ndtr(d1) - ndtr(d2) / half
    b_prime = half * _INV_SQRT_2PI * np.exp(-0.5 * d1 * d1)
    b_h2, b_h3 = _derivative_ratios(x_over_s, s)
    lower = target < 0.0
    if not lower.any():
        return b / target - 1.0, _householder3((target - b) / b_prime, b_h2, b_h3)
    ln_beta = np.where(lower, target, -1.0)
    ln_b = np.log(b)
    bpob = b_prime / b  # b'/b
    deep = np.flatnonzero(lower & (d1 < _DEEP_D1))
    if deep.size:
        gap = erfcx(-_INV_SQRT_2 * d1[deep]) - erfcx(-_INV_SQRT_2 * d2[deep])
        ln_b[deep] = np.log(0.5 * gap) - 0.5 * (x_over_s[deep] ** 2 + 0.25 * s[deep] ** 2)
        bpob[deep] = _SQRT_2_OVER_PI / gap
    err = ln_b - ln_beta
    inv_ln_b = 1.0 / ln_b
    newton = -err * ln_b / ln_beta / bpob
    halley = b_h2 - bpob * (1.0 + 2.0 * inv_ln_b)
    hh3 = (b_h3 + 2.0 * bpob * bpob * (1.0 + 3.0 * inv_ln_b * (1.0 + inv_ln_b))
           - 3.0 * b_h2 * bpob * (1.0 + 2.0 * inv_ln_b))
    if lower.all():
        return err, _householder3(newton, halley, hh3)
    return (np.where(lower, err, b / target - 1.0),
            np.where(lower, _householder3(newton, halley, hh3),
                     _householder3((target - b) / b_prime, b_h2, b_h3)))


def _iterate(step_fn, x, half, target, s, lo, hi, lo_known, hi_known, s_min, s_max, abs_tol_rel,
             tol: float, max_iter: int) -> NDArray[np.float64]:
    """Safeguarded Householder iteration (every branch at once); s per element, NaN where it fails.

    ``step_fn(x, half, s, target) -> (signed relative error, step)``. Each evaluation moves ``lo``
    or ``hi`` to s. A step that leaves (lo, hi) goes to the bound if it was never evaluated (to
    learn whether the root lies beyond [s_min, s_max]), else to the geometric midpoint.
    """
    result = np.full(x.size, np.nan)
    state = [np.arange(x.size), x, half, target, s, lo, hi, lo_known, hi_known, s_min, s_max,
             abs_tol_rel]
    for _ in range(max_iter):
        idx, x, half, target, s, lo, hi, lo_known, hi_known, s_min, s_max, abs_tol_rel = state
        if idx.size == 0:
            break
        err, step = step_fn(x, half, s, target)
        abs_err = np.abs(err)
        # verified: premium within tol relative, or within tol * S and already in the third-order
        # basin (relative error <= _POLISH_BASIN), where one more step is accurate to ~1e-12
        converged = (abs_err <= tol) | ((abs_err <= abs_tol_rel) & (abs_err <= _POLISH_BASIN))
        below = err < 0.0
        np.copyto(lo, s, where=below)
        np.copyto(hi, s, where=~below)
        lo_known |= below
        hi_known |= ~below
        failed = ~converged & ((below & (s >= s_max)) | (~below & (s <= s_min)) | np.isnan(err))
        # rounding has collapsed the bracket: accept only if the premium matches to tol * S
        stuck = ~converged & ~failed & lo_known & hi_known & (hi - lo <= 8.0 * _EPS * hi)
        accept_stuck = stuck & (abs_err <= abs_tol_rel)

        s_next = s + step
        inside = (s_next > lo) & (s_next < hi)  # False for NaN
        polished = converged & inside
        result[idx[polished]] = s_next[polished]
        kept_as_is = (converged & ~inside) | accept_stuck
        result[idx[kept_as_is]] = s[kept_as_is]

        s = s_next
        outside = np.flatnonzero(~inside)
        if outside.size:
            lo_o, hi_o, step_o = lo[outside], hi[outside], step[outside]
            fix = np.sqrt(lo_o * hi_o)
            fix = np.where((step_o < 0.0) & ~lo_known[outside], lo_o, fix)
            fix = np.where((step_o > 0.0) & ~hi_known[outside], hi_o, fix)
            s[outside] = fix
        state[4] = s

        done = converged | failed | stuck
        if np.any(done):
            keep = np.flatnonzero(~done)
            state = [a.take(keep) if np.ndim(a) else a for a in state]
    return result


def _solve_normalised(x, beta, abs_tol_rel, s_min, s_max, tol: float, max_iter: int,
                      half=None) -> NDArray[np.float64]:
    """Total volatility s with b(x, s) = beta to relative error <= tol; NaN outside [s_min, s_max].

    ``abs_tol_rel`` is the relative error equal to tol * S, accepted when rounding collapses the
    bracket first. ``s_min``/``s_max`` are scalars or arrays like x; ``half`` = e^{x/2} if known.
    """
    if half is None:
        half = np.exp(0.5 * x)
    s_c = np.sqrt(-2.0 * x)
    vega_c = half * _INV_SQRT_2PI  # b'(s_c)
    b_c = 0.5 * half - ndtr(-s_c) / half  # b(s_c), where d1 = 0
    s_l = s_c - b_c / vega_c  # the tangent at s_c meets b = 0 here
    s_l = np.where(s_l > 0.0, s_l, 0.5 * s_c)
    d1_l = x / s_l + 0.5 * s_l
    b_l = half * ndtr(d1_l) - ndtr(d1_l - s_l) / half
    lower = beta < b_l
    upper = beta >= b_c
    middle = ~lower & ~upper

    # bracket: lower (0, s_l), middle [s_l, s_c), upper [s_c, inf), intersected with [s_min, s_max]
    lo = upper * s_c + middle * s_l
    hi = np.where(lower, s_l, np.where(middle, s_c, np.inf))
    lo_known = lo > s_min
    hi_known = hi < s_max
    lo = np.maximum(lo, s_min)
    hi = np.minimum(hi, s_max)

    if np.all(lower):
        s = _lower_guess(x, beta, b_l, s_l)
    else:
        s = (s_l + (s_c - s_l) * (beta - b_l) / (b_c - b_l)  # secant: under the convex part
             + s_c + (beta - b_c) / vega_c) * 0.5  # tangent at s_c: over it
        for mask, guess in ((lower, lambda k: _lower_guess(x[k], beta[k], b_l[k], s_l[k])),
                            (upper, lambda k: _upper_guess(half[k], beta[k]))):
            k = np.flatnonzero(mask)
            if k.size:
                s[k] = guess(k)
    s = np.where(np.isfinite(s), s, np.sqrt(lo * hi))
    s = np.clip(s, lo, hi)

    result = np.full(x.size, np.nan)
    k = np.flatnonzero(lo < hi)  # otherwise the root lies outside [s_min, s_max]
    if k.size:
        def sub(a):
            return a if np.ndim(a) == 0 else a[k]

        target = np.where(lower[k], np.log(beta[k]), beta[k])  # ln beta < 0 marks the lower branch
        result[k] = _iterate(
            _step, x[k], half[k], target, s[k], lo[k], hi[k], lo_known[k], hi_known[k],
            sub(s_min), sub(s_max), abs_tol_rel[k], tol, max_iter,
        )
    return result


def _log_step(x, half, s, ln_beta, half_c=None):
    """(ln b - ln beta, third-order Householder step on h(s) = ln b(x, s) - ln beta, d1) at s.

    With b'/b = bpob: h' = bpob, h''/h' = b''/b' - bpob, h'''/h' = b'''/b' - 3 bpob b''/b' + 2 bpob^2.
    The plain form of b (no erfcx), so callers keep it to d1 >= _DEEP_D1. ``half_c`` = half / sqrt(2 pi)
    when the caller keeps it."""
    x_over_s = x / s
    d1 = x_over_s + _HALF * s
    b = half * ndtr(d1) - ndtr(d1 - s) / half
    bpob = (half * _INV_SQRT_2PI_0D if half_c is None else half_c) * np.exp(_MINUS_HALF * d1 * d1) / b
    err = np.log(b) - ln_beta
    b_h2, b_h3 = _derivative_ratios(x_over_s, s)
    step = _householder3(-err / bpob, b_h2 - bpob, b_h3 + bpob * (_2 * bpob - _3 * b_h2))
    return err, step, d1


_WARM_STEPS = 4  # evaluations from a guess before an element is handed to the solve from scratch


def _solve_warm(x, beta, abs_tol_rel, s_min, s_max, tol: float, max_iter: int, s0,
                half=None) -> NDArray[np.float64]:
    """:func:`_solve_normalised` started from a guess ``s0`` (e.g. the previous sample's total vol).

    Third-order Householder steps on ln b(x, s) = ln beta from s0, at most _WARM_STEPS evaluations,
    each with the full solver's acceptance test (relative premium error <= tol, or <= tol * S inside
    the third-order basin) and, once it passes, one more step as the polish, as :func:`_iterate`
    does. A step that would leave (s_min, s_max) goes halfway (geometrically) to that end. Elements
    without a usable guess, in the deep-OTM region (d1 < _DEEP_D1) or not accepted in time are left
    NaN for the solve from scratch. b rises in s, so an accepted s lies within the premium tolerance
    of the one root the full solver finds (docs/model.md section 14)."""
    out = _nan(x.size)
    ln_beta = np.log(beta)
    if half is None:
        half = np.exp(0.5 * x)
    half_c = half * _INV_SQRT_2PI_0D
    # |err| <= tol, or |err| <= abs_tol_rel inside the basin: one threshold per element
    accept = np.maximum(np.minimum(abs_tol_rel, _c(_POLISH_BASIN)), np.asarray(tol))
    lo, hi = (np.asarray(a) for a in (s_min, s_max))  # (a number as a 0-d array: see _c)
    s = np.where((s0 > lo) & (s0 < hi), s0, _NAN_0D)  # False for NaN
    idx = None  # positions in ``out`` of the live elements (None: all, in order)
    for _ in range(_WARM_STEPS):
        err, step, d1 = _log_step(x, half, s, ln_beta, half_c)
        s_next = s + step
        inside = (s_next > lo) & (s_next < hi)  # False for NaN
        usable = d1 >= _DEEP_D1_0D  # False for NaN
        done = np.abs(err) <= accept
        done &= inside
        done &= usable
        any_done = done.any()
        if any_done:
            if idx is None:
                np.copyto(out, s_next, where=done)
            else:
                out[idx[done]] = s_next[done]
        if not inside.all():
            s_next = np.where(s_next <= lo, np.sqrt(s * lo), np.where(s_next >= hi, np.sqrt(s * hi), s_next))
        if any_done or not usable.all():  # drop the finished and the unusable
            live = (usable & ~done).nonzero()[0]
            if not live.size:
                break
            idx = live if idx is None else idx[live]
            x, half, half_c, ln_beta, accept, s_next = (x[live], half[live], half_c[live], ln_beta[live],
                                                        accept[live], s_next[live])
            lo = lo if np.ndim(lo) == 0 else lo[live]
            hi = hi if np.ndim(hi) == 0 else hi[live]
        s = s_next
    return out


def implied_vol(is_call: ArrayLike, price: ArrayLike, S: ArrayLike, K: ArrayLike, t: ArrayLike,
                r: ArrayLike, q: ArrayLike, *, tol: float = 1e-7, max_iter: int = 50,
                guess: ArrayLike | None = None, omega: NDArray[np.float64] | None = None) -> NDArray[np.float64]:
    """Black-Scholes-Merton implied volatility of a premium ($/share), NaN where none exists.

    Works on the OTM-equivalent premium ``price - e^{-rT} max(omega (F - K), 0)``, ``F = S e^{(r-q)T}``,
    and solves ``bs_price(sigma) = price`` to a relative premium error <= tol (so an absolute error
    <= tol * S). NaN when an input is non-finite; S, K, t or price <= 0; the premium is at or below
    discounted intrinsic or at or above the no-arbitrage bound (S e^{-qT} call, K e^{-rT} put);
    the root lies outside [MIN_IMPLIED_VOL, MAX_IMPLIED_VOL]; or no convergence in ``max_iter``.

    ``guess`` (broadcasts like ``price``; NaN = none): a vol to start from, e.g. the previous
    sample's. Where it is close, two steps from it replace the closed-form start and its bracket;
    the answer passes the same acceptance test, so it agrees with the unguessed one to the premium
    tolerance (elsewhere the solve starts from scratch). ``omega``: +1 / -1 of ``is_call`` when the
    caller keeps it (shaped like ``is_call``).
    """

    is_call = np.asarray(is_call, dtype=bool)
    price, S, K, t, r, q = (_as_float(a) for a in (price, S, K, t, r, q))
    shape = _shape_of(is_call, price, S, K, t, r, q)
    sigma = _nan(shape)
    with np.errstate(all="ignore"):
        omega = _sign_of_option(is_call) if omega is None else omega
        forward = np.asarray(S * np.exp((r - q) * t))  # (numbers stay 0-d arrays: see _c)
        rate_discount = np.asarray(np.exp(-r * t))
        time_value = price - rate_discount * np.maximum(omega * (forward - K), _0)  # OTM-equivalent
        scale = rate_discount * np.sqrt(forward * K)  # e^{-rT} sqrt(F K)
        beta = time_value / scale
        x = -np.abs(np.log(forward / K))
        half = np.exp(_HALF * x)
        # a price, S or K that is not a finite number > 0 makes beta NaN, <= 0 or >= e^{x/2} (x NaN or
        # -inf included), so only t, r and q need their own test
        valid = _usable((t,), (r, q)) & (beta > _0) & (beta < half)
        if np.shape(valid) != shape:
            valid = np.broadcast_to(valid, shape)
        where_valid = valid.ravel().nonzero()[0]
        if not where_valid.size:
            return sigma
        everywhere = where_valid.size == sigma.size

        def pick(a):
            a = np.asarray(a)
            # of ``shape`` (maybe short of leading 1s) when the sizes agree: no broadcast needed
            a = a.reshape(-1) if a.size == sigma.size else np.broadcast_to(a, shape).ravel()
            return a if everywhere else a.take(where_valid)

        sqrt_t = np.asarray(np.sqrt(t)) if np.ndim(t) == 0 else pick(np.sqrt(t))  # s bounds: 0-d for scalar t
        xs, betas, halves = pick(x), pick(beta), pick(half)
        abs_tol_rel = (np.asarray(tol * float(S.reshape(-1)[0])) / pick(time_value) if S.size == 1
                       else pick(tol * S / time_value))
        s_min, s_max = np.asarray(MIN_IMPLIED_VOL * sqrt_t), np.asarray(MAX_IMPLIED_VOL * sqrt_t)
        if guess is None:
            s = _solve_normalised(xs, betas, abs_tol_rel, s_min, s_max, tol, max_iter, halves)
        else:
            s = _solve_warm(xs, betas, abs_tol_rel, s_min, s_max, tol, max_iter, pick(_as_float(guess)) * sqrt_t,
                            halves)
            rest = np.isnan(s).nonzero()[0]  # no usable guess, or not accepted: from scratch
            if rest.size:
                def sub(a):
                    return a if np.ndim(a) == 0 else a[rest]

                s[rest] = _solve_normalised(xs[rest], betas[rest], abs_tol_rel[rest], sub(s_min), sub(s_max), tol,
                                            max_iter, halves[rest])
        if everywhere:
            sigma = (s / sqrt_t).reshape(shape)
        else:
            sigma.reshape(-1)[where_valid] = s / sqrt_t
    return sigma
