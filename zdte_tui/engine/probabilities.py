"""Pin and range probabilities for today's close: risk-neutral smile + a gamma-regime adjustment.

Every block is computed from ONE distribution whose at-the-money vol is the ATM IV that also
defines the bands (sigma = spot * atm_iv * sqrt(t)), so a +-1 sigma band carries ~68 % under the
unadjusted lognormal by construction, at every minute to the close.

1. Risk-neutral CDF of the close from the smile (Breeden-Litzenberger in closed form on a
   smoothed smile): with k = ln(K/F) and a smoothed implied vol sigma(k),

       P(S_T <= K) = 1 + e^{rt} dC/dK = N(-d2) + n(d2) * sqrt(t) * dsigma/dk

   The smile is sigma(k) = atm_iv + c1 k + c2 k^2 (anchored: sigma(0) is the ATM IV), fitted by
   Huber-reweighted least squares to the quotes within |z| <= 4 where z = k / (atm_iv sqrt t)
   (the standardized remaining move: near the close the wings are noise for a +-2 sigma band),
   clamped to [0.5 * min, 1.5 * max] of the vols used and flat outside the fitted k range. Fewer
   than 3 quotes in that window give a flat smile: exactly the lognormal. The CDF is forced
   monotone (running maximum) and clipped to [0, 1].
   Guard: if the smile CDF is farther than SMILE_MAX_KS = 0.05 (sup distance on +-4 sigma) from the
   ATM lognormal, the quadratic does not represent the quotes and the lognormal is used instead
   (``model.smile_rejected``). So any interval probability of the smile is within 0.10 of the
   lognormal's on the same interval.
2. Gamma-regime adjustment: the close is rescaled around a center c by a dispersion factor
   lambda, X' = c + lambda (X - c), so F'(x) = F(c + (x - c) / lambda):
     positive net GEX: lambda = 1 - 0.30 * pin_score/100 - 0.10 * g  (shrinks, c = magnet when
                       the magnet is within 1 sigma of spot, else spot)
     negative net GEX: lambda = 1 + 0.25 * g  (widens, c = spot)
   where g = |net GEX| / gross |GEX| in [0, 1] (how one-sided dealer gamma is).
3. ``value`` (docs/decision-layer.md, "Never worse than the baseline"): the calibrated model only
   where a :class:`~zdte_tui.engine.calibration.Calibration` says it beat the lognormal baseline on
   held-out data for this target and time-to-close bucket; otherwise the baseline itself.
4. After the close (``settled_close`` given) nothing is live: pin resolves to 1/0 against the
   settlement (``calibration_method = "settled"``) and the range blocks are hidden (value None).

``calibration_method`` values: ``lognormal_baseline`` (value is the baseline: no calibration
evidence), ``lognormal_baseline:<reason>`` (a calibration exists but the model lost to the baseline
in this bucket), ``isotonic:<file>`` / ``platt:<file>`` (calibrated model), ``settled``.
``model.distribution`` says what ``model_value`` was computed from: ``risk_neutral_smile``,
``lognormal_baseline`` (no usable smile) or ``lognormal_baseline (smile rejected)``, with
``+gamma_adjustment`` when lambda != 1.
Time is a year fraction; the default for converting hours is ACT/365 calendar time
(``HOURS_PER_YEAR = 8760``), which must match the convention the IVs were solved with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .calibration import Calibration
from .special import ndtr

HOURS_PER_YEAR = 365.0 * 24.0
PIN_HALF_WIDTH_MIN_FRACTION = 0.0005    # pin band half-width >= 5 bp of spot
POS_GAMMA_PIN_SHRINK = 0.30             # lambda -= 0.30 * pin_score / 100
POS_GAMMA_ONESIDED_SHRINK = 0.10        # lambda -= 0.10 * g
NEG_GAMMA_WIDEN = 0.25                  # lambda += 0.25 * g
MAGNET_CENTER_MAX_SIGMAS = 1.0          # magnet is the shrink center only within 1 sigma of spot
SMILE_VOL_FLOOR = 1e-4
SMILE_FIT_MAX_Z = 4.0                   # quotes with |ln(K/F)| <= 4 atm_iv sqrt(t) shape the smile
SMILE_MAX_KS = 0.05                     # sup |F_smile - F_lognormal| on +-4 sigma above this: smile rejected
SMILE_MIN_QUOTES = 3                    # fewer quotes in the window: flat smile (the lognormal)
PROBABILITY_TARGETS = ("pin", "range_1sigma", "range_2sigma")

_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _npdf(x: np.ndarray) -> np.ndarray:
    return _INV_SQRT_2PI * np.exp(-0.5 * x * x)


def hours_to_years(hours: float) -> float:
    """ACT/365 year fraction of ``hours`` (hours / 8760)."""
    return max(float(hours), 0.0) / HOURS_PER_YEAR


def remaining_sigma_usd(spot: float, atm_iv: float | None, t_years: float) -> float | None:
    """One-sigma remaining move in dollars: spot * atm_iv * sqrt(t). None if IV unknown."""
    if atm_iv is None or not math.isfinite(atm_iv) or atm_iv <= 0 or not math.isfinite(spot) or spot <= 0:
        return None
    return float(spot * atm_iv * math.sqrt(max(t_years, 0.0)))


def bs_call_price(spot: Any, strike: Any, t_years: float, r: float, q: float, sigma: Any) -> np.ndarray:
    """Black-Scholes call price, vectorized: S e^{-qt} N(d1) - K e^{-rt} N(d2)."""
    S = np.asarray(spot, dtype=np.float64)
    K = np.asarray(strike, dtype=np.float64)
    v = np.maximum(np.asarray(sigma, dtype=np.float64), SMILE_VOL_FLOOR)
    t = max(float(t_years), 1e-12)
    sd = v * math.sqrt(t)
    d1 = (np.log(S / K) + (r - q) * t + 0.5 * sd * sd) / sd
    d2 = d1 - sd
    return S * math.exp(-q * t) * ndtr(d1) - K * math.exp(-r * t) * ndtr(d2)


def implied_vol_from_calls(call_prices: Any, strikes: Any, spot: float, t_years: float, r: float = 0.0,
                           q: float = 0.0, lo: float = 1e-4, hi: float = 10.0, iters: int = 80) -> np.ndarray:
    """Vectorized bisection for call implied vols; NaN where the price is outside no-arbitrage bounds."""
    C = np.asarray(call_prices, dtype=np.float64)
    K = np.asarray(strikes, dtype=np.float64)
    t = max(float(t_years), 1e-12)
    lower = np.maximum(spot * math.exp(-q * t) - K * math.exp(-r * t), 0.0)
    upper = spot * math.exp(-q * t)
    valid = np.isfinite(C) & np.isfinite(K) & (K > 0) & (C > lower) & (C < upper)
    a = np.full(C.shape, lo)
    b = np.full(C.shape, hi)
    for _ in range(iters):
        mid = 0.5 * (a + b)
        too_high = bs_call_price(spot, K, t, r, q, mid) > C
        b = np.where(too_high, mid, b)
        a = np.where(too_high, a, mid)
    return np.where(valid, 0.5 * (a + b), np.nan)


@dataclass(frozen=True)
class SmileFit:
    """sigma(k) = c0 + c1 k + c2 k^2 on [k_min, k_max], flat outside; clamped to [vol_lo, vol_hi]."""

    c0: float
    c1: float
    c2: float
    k_min: float
    k_max: float
    vol_lo: float
    vol_hi: float

    def vol(self, k: np.ndarray) -> np.ndarray:
        kc = np.clip(k, self.k_min, self.k_max)
        return np.clip(self.c0 + self.c1 * kc + self.c2 * kc * kc, self.vol_lo, self.vol_hi)

    def dvol_dk(self, k: np.ndarray) -> np.ndarray:
        inside = (k > self.k_min) & (k < self.k_max)
        raw = self.c0 + self.c1 * k + self.c2 * k * k
        unclamped = (raw > self.vol_lo) & (raw < self.vol_hi)
        return np.where(inside & unclamped, self.c1 + 2.0 * self.c2 * k, 0.0)


def atm_vol_from_quotes(strikes: Any, ivs: Any, forward: float) -> float | None:
    """IV at k = 0 by linear interpolation of the usable quotes in k = ln(K/F) (flat beyond them)."""
    K = np.asarray(strikes, dtype=np.float64).ravel()
    v = np.asarray(ivs, dtype=np.float64).ravel()
    ok = np.isfinite(K) & np.isfinite(v) & (K > 0) & (v > 0) & (v < 10)
    if not ok.any() or not (math.isfinite(forward) and forward > 0):
        return None
    k = np.log(K[ok] / forward)
    order = np.argsort(k, kind="mergesort")
    return float(np.interp(0.0, k[order], v[ok][order]))


def fit_smile(strikes: Any, ivs: Any, forward: float, robust_iters: int = 3, *, atm_iv: float | None = None,
              t_years: float | None = None) -> SmileFit | None:
    """Anchored, local quadratic smile sigma(k) = atm_iv + c1 k + c2 k^2 in k = ln(K/F).

    ``atm_iv`` anchors sigma(0) (default: :func:`atm_vol_from_quotes`). With ``t_years`` > 0 only
    quotes with |k| <= SMILE_FIT_MAX_Z * atm_iv * sqrt(t) are used. (c1, c2) is least squares on
    ``iv - atm_iv`` with Huber reweighting (c = 1.345 x 1.4826 x MAD); fewer than SMILE_MIN_QUOTES
    usable quotes (or no k spread) give a flat smile at ``atm_iv``. No usable quote and no
    ``atm_iv`` gives None."""
    K = np.asarray(strikes, dtype=np.float64).ravel() if strikes is not None else np.zeros(0)
    v = np.asarray(ivs, dtype=np.float64).ravel() if ivs is not None else np.zeros(0)
    if K.shape != v.shape or not (math.isfinite(forward) and forward > 0):
        return None
    anchor = atm_iv if (atm_iv is not None and math.isfinite(atm_iv) and atm_iv > 0) else \
        atm_vol_from_quotes(K, v, forward)
    if anchor is None:
        return None
    ok = np.isfinite(K) & np.isfinite(v) & (K > 0) & (v > 0) & (v < 10)
    k = np.log(np.where(ok, K, forward) / forward)
    if t_years is not None and t_years > 0:
        ok &= np.abs(k) <= SMILE_FIT_MAX_Z * anchor * math.sqrt(t_years)
    k, v = k[ok], v[ok]
    if k.size < SMILE_MIN_QUOTES or float(np.ptp(k)) < 1e-12:
        return SmileFit(float(anchor), 0.0, 0.0, 0.0, 0.0, max(0.5 * anchor, SMILE_VOL_FLOOR), 1.5 * anchor)
    lo = max(0.5 * min(float(v.min()), anchor), SMILE_VOL_FLOOR)
    hi = 1.5 * max(float(v.max()), anchor)
    X = np.column_stack([k, k * k])
    y = v - anchor
    w = np.ones_like(k)
    coef = np.zeros(2)
    for _ in range(robust_iters):
        sw = np.sqrt(w)
        coef, *_ = np.linalg.lstsq(X * sw[:, None], y * sw, rcond=None)
        resid = y - X @ coef
        scale = 1.4826 * float(np.median(np.abs(resid - np.median(resid))))
        if scale <= 1e-12:
            break
        u = np.abs(resid) / (1.345 * scale)
        w = np.where(u <= 1.0, 1.0, 1.0 / np.maximum(u, 1e-12))
    if not np.all(np.isfinite(coef)):
        coef = np.zeros(2)
    return SmileFit(float(anchor), float(coef[0]), float(coef[1]), float(k.min()), float(k.max()), lo, hi)


def smile_ks_distance(smile: SmileFit, forward: float, t_years: float, atm_iv: float, n: int = 161) -> float:
    """sup |F_smile(x) - F_lognormal(x)| over x = F exp(z atm_iv sqrt t), z in [-4, 4] (n points)."""
    sd = atm_iv * math.sqrt(max(t_years, 0.0))
    if sd <= 0:
        return 0.0
    x = forward * np.exp(np.linspace(-SMILE_FIT_MAX_Z, SMILE_FIT_MAX_Z, n) * sd)
    return float(np.max(np.abs(smile_close_cdf(x, smile, forward, t_years)
                               - lognormal_close_cdf(x, forward, atm_iv, t_years))))


def _monotone_unit(x: np.ndarray, cdf: np.ndarray) -> np.ndarray:
    """Force a CDF evaluated at x to be non-decreasing in x and inside [0, 1]."""
    order = np.argsort(x, kind="mergesort")
    c = np.clip(np.nan_to_num(cdf[order], nan=0.0), 0.0, 1.0)
    c = np.maximum.accumulate(c)
    out = np.empty_like(c)
    out[order] = c
    return out


def lognormal_close_cdf(x: Any, spot: float, atm_iv: float, t_years: float, r: float = 0.0,
                        q: float = 0.0) -> np.ndarray:
    """Lognormal baseline P(S_T <= x) = N((ln(x/F) + sigma^2 t / 2) / (sigma sqrt t)), F = S e^{(r-q)t}.

    Degenerates to a step at F when sigma * sqrt(t) is 0."""
    xa = np.asarray(x, dtype=np.float64)
    F = spot * math.exp((r - q) * t_years)
    sd = (atm_iv or 0.0) * math.sqrt(max(t_years, 0.0))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if sd <= 0:
            cdf = np.where(xa >= F, 1.0, 0.0)
        else:
            z = (np.log(np.where(xa > 0, xa, np.nan) / F) + 0.5 * sd * sd) / sd
            cdf = np.where(xa > 0, ndtr(np.nan_to_num(z, nan=-np.inf)), 0.0)
    return np.clip(cdf, 0.0, 1.0)


def lognormal_band_probabilities(lo: Any, hi: Any, spot: Any, atm_iv: Any, t_years: Any, r: float = 0.0,
                                 q: float = 0.0) -> np.ndarray:
    """P(lo <= S_T <= hi) under the lognormal baseline, one value per row of the broadcast inputs:
    the vectorized ``_prob_between(lognormal_close_cdf(., spot, atm_iv, t_years, r, q), lo, hi)`` (same
    formula, same nudge of ``lo``; ``t_years`` must already be >= 0, as in :func:`close_probabilities`).
    A NaN or non-positive ``atm_iv`` is a zero-width distribution (a step at the forward)."""
    lo_, hi_, S, v, t = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (lo, hi, spot, atm_iv, t_years)))
    F = S * np.exp((r - q) * t)
    sd = np.where(np.isfinite(v), v, 0.0) * np.sqrt(np.maximum(t, 0.0))
    xa = np.stack([lo_ - 1e-9 * np.maximum(1.0, np.abs(lo_)), hi_], axis=-1)
    F2, sd2 = F[..., None], sd[..., None]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        z = (np.log(np.where(xa > 0, xa, np.nan) / F2) + 0.5 * sd2 * sd2) / sd2
        cdf = np.where(xa > 0, ndtr(np.nan_to_num(z, nan=-np.inf)), 0.0)
        cdf = np.where(sd2 <= 0, np.where(xa >= F2, 1.0, 0.0), cdf)
    cdf = np.clip(cdf, 0.0, 1.0)
    return np.clip(cdf[..., 1] - cdf[..., 0], 0.0, 1.0)


def smile_close_cdf(x: Any, smile: SmileFit, forward: float, t_years: float) -> np.ndarray:
    """P(S_T <= x) = N(-d2) + n(d2) sqrt(t) sigma'(k) for a fitted smile; monotone, in [0, 1]."""
    xa = np.atleast_1d(np.asarray(x, dtype=np.float64))
    t = max(float(t_years), 0.0)
    if t <= 0:
        return np.where(xa >= forward, 1.0, 0.0)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        k = np.nan_to_num(np.log(np.where(xa > 0, xa, np.nan) / forward), nan=0.0)
        sd = smile.vol(k) * math.sqrt(t)
        d2 = (-k - 0.5 * sd * sd) / sd
        cdf = ndtr(-d2) + _npdf(d2) * math.sqrt(t) * smile.dvol_dk(k)
    cdf = np.where(xa > 0, cdf, 0.0)
    return _monotone_unit(xa, cdf)


def _smile_from_quotes(strikes: Any, spot: float, t_years: float, r: float, q: float, ivs: Any | None,
                       call_prices: Any | None, atm_iv: float | None = None) -> SmileFit | None:
    if strikes is None or np.size(strikes) == 0:
        return None
    if ivs is None:
        if call_prices is None:
            return None
        ivs = implied_vol_from_calls(call_prices, strikes, spot, t_years, r, q)
    return fit_smile(strikes, ivs, spot * math.exp((r - q) * max(t_years, 0.0)), atm_iv=atm_iv, t_years=t_years)


def risk_neutral_close_cdf(x: Any, strikes: Any, spot: float, t_years: float, r: float = 0.0,
                           q: float = 0.0, ivs: Any | None = None,
                           call_prices: Any | None = None, atm_iv: float | None = None) -> np.ndarray | None:
    """Risk-neutral P(S_T <= x) from the smile (ivs) or from call prices (inverted to ivs first).

    P(S_T <= K) = N(-d2(K)) + n(d2(K)) sqrt(t) sigma'(k), k = ln(K/F), with the anchored local
    :func:`fit_smile`; then made monotone in x and clipped to [0, 1]. None if no usable quote.
    (No SMILE_MAX_KS guard here: :func:`close_probabilities` applies it.)"""
    t = max(float(t_years), 0.0)
    smile = _smile_from_quotes(strikes, spot, t, r, q, ivs, call_prices, atm_iv)
    if smile is None:
        return None
    return smile_close_cdf(x, smile, spot * math.exp((r - q) * t), t)


def gamma_dispersion_factor(net_gex_usd: float | None, gross_gex_usd: float | None,
                            pin_score: float | None) -> float:
    """lambda: 1 - 0.30 pin/100 - 0.10 g in positive gamma, 1 + 0.25 g in negative, 1 if unknown;
    g = clip(|net GEX| / gross |GEX|, 0, 1)."""
    if net_gex_usd is None or not math.isfinite(net_gex_usd) or net_gex_usd == 0:
        return 1.0
    g = 0.0
    if gross_gex_usd is not None and math.isfinite(gross_gex_usd) and gross_gex_usd > 0:
        g = min(max(abs(net_gex_usd) / gross_gex_usd, 0.0), 1.0)
    if net_gex_usd > 0:
        pin = min(max(float(pin_score or 0.0), 0.0), 100.0) / 100.0
        return 1.0 - POS_GAMMA_PIN_SHRINK * pin - POS_GAMMA_ONESIDED_SHRINK * g
    return 1.0 + NEG_GAMMA_WIDEN * g


def gamma_adjusted_cdf(x: Any, base_cdf, center: float, dispersion_factor: float) -> np.ndarray:
    """F'(x) = F(c + (x - c) / lambda): the close rescaled by lambda around center c."""
    xa = np.asarray(x, dtype=np.float64)
    lam = dispersion_factor if dispersion_factor > 0 else 1.0
    return np.clip(base_cdf(center + (xa - center) / lam), 0.0, 1.0)


@dataclass(frozen=True)
class ProbabilityInputs:
    """Inputs for :func:`close_probabilities`. Units in each comment.

    strikes / ivs / call_prices are parallel arrays for today's expiry (any may be empty/None:
    then the lognormal baseline is used). The +-1/2 sigma range bands use
    sigma = spot * atm_iv * sqrt(t), the same ATM vol the distribution is anchored on.
    ``settled_close`` is the settlement print once the session has closed (None while it is open)."""

    spot: float                                  # underlying, USD
    t_years: float                               # time to the close, year fraction (same as the IVs)
    atm_iv: float | None                         # annualized decimal (0.15 = 15%)
    strikes: Any = None                          # USD, array
    ivs: Any = None                              # annualized decimals, array parallel to strikes
    call_prices: Any = None                      # USD per share, used only when ivs is None
    r: float = 0.0                               # continuously compounded rate, decimal
    q: float = 0.0                               # continuous dividend yield, decimal
    magnet: float | None = None                  # pin strike, USD
    pin_half_width_usd: float | None = None      # pin band half-width, USD (None -> max(0.5 step, 5bp))
    strike_step_usd: float = 1.0                 # listed strike spacing, USD
    net_gex_usd: float | None = None             # live net GEX, USD per 1% move (sign = regime)
    gross_gex_usd: float | None = None           # sum over strikes of |net GEX|, same unit
    pin_score: float | None = None               # 0-100
    settled_close: float | None = None           # USD, the close once the session is over


def _finite_or_none(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _prob_between(cdf_fn, lo: float, hi: float) -> float:
    """P(lo <= X <= hi) = F(hi) - F(lo-): the left edge is nudged down so a point mass on lo counts."""
    c = cdf_fn(np.array([lo - 1e-9 * max(1.0, abs(lo)), hi]))
    return float(np.clip(c[1] - c[0], 0.0, 1.0))


def _empty_block(method: str) -> dict[str, Any]:
    return {"value": None, "model_value": None, "baseline_value": None, "calibration_method": method,
            "band": None}


def _choose_value(calibration: Calibration | None, target: str, hours_to_close: float, model_value: float,
                  baseline_value: float) -> tuple[float, str]:
    """(value, calibration_method): the calibrated model where ``calibration`` selected it for this
    target and time-to-close bucket on held-out data, else the baseline (and why)."""
    if calibration is None:
        return baseline_value, "lognormal_baseline"
    use, reason = calibration.selects_model(target, hours_to_close)
    if use:
        return float(calibration.apply(target, model_value)), calibration.label()
    return baseline_value, f"lognormal_baseline:{reason}"


def close_probabilities(inputs: ProbabilityInputs, calibration: Calibration | None = None) -> dict[str, Any]:
    """Pin and range odds for the close.

    pin.value          = P(|S_T - magnet| <= half_width)   (None without a magnet)
    range_Nsigma.value = P(spot - N sigma <= S_T <= spot + N sigma), N = 1, 2, sigma = spot atm_iv sqrt(t)
    Each block carries ``model_value`` (smile + gamma adjustment, before calibration),
    ``baseline_value`` (lognormal at the ATM IV, unadjusted), ``value`` (see :func:`_choose_value`),
    ``calibration_method`` and ``band``. After the close (``settled_close``) pin is 1/0 and the
    ranges are hidden. ``model`` describes the distribution behind ``model_value``."""
    spot_or_none = _finite_or_none(inputs.spot)
    if spot_or_none is None or spot_or_none <= 0:
        return {**{t: _empty_block("lognormal_baseline") for t in PROBABILITY_TARGETS},
                "model": {"distribution": None, "dispersion_factor": None, "center": None, "atm_iv": None,
                          "sigma_1sd_usd": None, "pin_half_width_usd": None, "smile_ks_distance": None,
                          "smile_rejected": False, "settled": False}}
    spot, t = spot_or_none, max(_finite_or_none(inputs.t_years) or 0.0, 0.0)
    r, q = float(inputs.r or 0.0), float(inputs.q or 0.0)
    atm_iv = _finite_or_none(inputs.atm_iv)
    if atm_iv is not None and atm_iv <= 0:
        atm_iv = None
    forward = spot * math.exp((r - q) * t)
    smile = _smile_from_quotes(inputs.strikes, spot, t, r, q, inputs.ivs, inputs.call_prices, atm_iv)
    if atm_iv is None and smile is not None:  # no ATM IV given: the smile's anchor read off the quotes
        atm_iv = smile.c0
    sigma = remaining_sigma_usd(spot, atm_iv, t)

    def baseline(x: np.ndarray) -> np.ndarray:
        return lognormal_close_cdf(x, spot, atm_iv or 0.0, t, r, q)

    distribution, base_cdf, ks, rejected = "lognormal_baseline", baseline, None, False
    if smile is not None and atm_iv is not None and t > 0:
        ks = smile_ks_distance(smile, forward, t, atm_iv)
        if ks <= SMILE_MAX_KS:
            distribution = "risk_neutral_smile"

            def base_cdf(x: np.ndarray) -> np.ndarray:  # noqa: F811 - the chosen distribution
                return smile_close_cdf(x, smile, forward, t)
        else:
            distribution, rejected = "lognormal_baseline (smile rejected)", True

    lam = gamma_dispersion_factor(_finite_or_none(inputs.net_gex_usd), _finite_or_none(inputs.gross_gex_usd),
                                  _finite_or_none(inputs.pin_score))
    magnet = _finite_or_none(inputs.magnet)
    center = spot
    if lam < 1.0 and magnet is not None and sigma is not None and abs(magnet - spot) <= \
            MAGNET_CENTER_MAX_SIGMAS * max(sigma, 1e-12):
        center = magnet
    adjusted = lam != 1.0
    if adjusted:
        distribution += "+gamma_adjustment"

    def model_cdf(x: np.ndarray) -> np.ndarray:
        return gamma_adjusted_cdf(x, base_cdf, center, lam) if adjusted else base_cdf(np.asarray(x, float))

    half_width = _finite_or_none(inputs.pin_half_width_usd)
    if half_width is None or half_width <= 0:
        half_width = max(0.5 * float(inputs.strike_step_usd or 0.0), PIN_HALF_WIDTH_MIN_FRACTION * spot)

    bands: dict[str, tuple[float, float] | None] = {
        "pin": (magnet - half_width, magnet + half_width) if magnet is not None else None,
        "range_1sigma": (spot - sigma, spot + sigma) if sigma is not None else None,
        "range_2sigma": (spot - 2 * sigma, spot + 2 * sigma) if sigma is not None else None,
    }
    settled = _finite_or_none(inputs.settled_close)
    hours = t * HOURS_PER_YEAR
    out: dict[str, Any] = {}
    for target in PROBABILITY_TARGETS:
        band = bands[target]
        if settled is not None:  # the session is over: resolved or hidden, never live odds
            block = _empty_block("settled")
            if target == "pin" and band is not None:
                block.update(value=1.0 if band[0] <= settled <= band[1] else 0.0,
                             band=[_finite_or_none(band[0]), _finite_or_none(band[1])])
            out[target] = block
            continue
        if band is None:
            out[target] = _empty_block("lognormal_baseline")
            continue
        lo, hi = band
        model_value = _prob_between(model_cdf, lo, hi)
        baseline_value = _prob_between(baseline, lo, hi)
        value, label = _choose_value(calibration, target, hours, model_value, baseline_value)
        out[target] = {"value": _finite_or_none(value), "model_value": _finite_or_none(model_value),
                       "baseline_value": _finite_or_none(baseline_value), "calibration_method": label,
                       "band": [_finite_or_none(lo), _finite_or_none(hi)]}
    out["model"] = {"distribution": distribution, "dispersion_factor": _finite_or_none(lam),
                    "center": _finite_or_none(center), "atm_iv": _finite_or_none(atm_iv),
                    "sigma_1sd_usd": _finite_or_none(sigma), "pin_half_width_usd": _finite_or_none(half_width),
                    "smile_ks_distance": _finite_or_none(ks), "smile_rejected": rejected,
                    "settled": settled is not None}
    return out


def lognormal_close_probabilities(spot: float, atm_iv: float | None, t_years: float, magnet: float | None = None,
                                  pin_half_width_usd: float | None = None, strike_step_usd: float = 1.0,
                                  r: float = 0.0, q: float = 0.0) -> dict[str, Any]:
    """Baseline for comparison: the same blocks from a lognormal with the ATM IV, no adjustment."""
    return close_probabilities(ProbabilityInputs(spot=spot, t_years=t_years, atm_iv=atm_iv, r=r, q=q,
                                                 magnet=magnet, pin_half_width_usd=pin_half_width_usd,
                                                 strike_step_usd=strike_step_usd))
