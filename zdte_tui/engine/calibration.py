"""Probability calibration: isotonic (pool-adjacent-violators) and Platt (logistic) maps.

A :class:`Calibration` holds one monotone map per probability target (``pin``,
``range_1sigma``, ``range_2sigma``) fitted on (predicted, realized-outcome) pairs collected by
replaying recordings (``zdte calibrate``). :mod:`zdte_tui.engine.probabilities` applies it when
configured and tags the output ``isotonic:<source>`` or ``platt:<source>``.

The only I/O in the engine lives here: :func:`load_calibration` / :func:`save_calibration`
read and write a small JSON document (schema below and in ``docs/decision-layer.md``).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

CALIBRATION_SCHEMA = "zdte-calibration-2"
READABLE_SCHEMAS = ("zdte-calibration-1", CALIBRATION_SCHEMA)  # -1 has no held-out selection
# Time-to-close buckets (hours, left-closed) in which the model must beat the baseline on held-out data
HORIZON_EDGES_HOURS = (0.0, 1.0, 2.0, 4.0)
HORIZON_LABELS = ("<1h", "1-2h", "2-4h", ">=4h")
MIN_HELD_OUT_PAIRS = 20   # fewer held-out pairs in a bucket: the model is not validated there
SELECTION_SE_MULTIPLE = 2.0  # the model must beat the baseline's Brier by > 2 standard errors (paired)
CALIBRATION_METHODS = ("isotonic", "platt")
PROB_EPS = 1e-6           # probabilities are clipped to [eps, 1 - eps] before a logit
PLATT_L2 = 1e-3           # ridge on (a - 1, b) keeps Platt finite on separable data
PLATT_MAX_ITER = 100


def _clean_pairs(pred: Any, outcome: Any) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(pred, dtype=np.float64).ravel()
    y = np.asarray(outcome, dtype=np.float64).ravel()
    if p.shape != y.shape:
        raise ValueError(f"pred and outcome lengths differ: {p.size} vs {y.size}")
    ok = np.isfinite(p) & np.isfinite(y)
    return np.clip(p[ok], 0.0, 1.0), np.clip(y[ok], 0.0, 1.0)


def pav_isotonic(x: Any, y: Any, weight: Any | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Weighted isotonic (non-decreasing) least-squares fit by pool-adjacent-violators.

    Returns ``(x_knots, y_knots)``: the distinct sorted x values and the fitted block means,
    minimizing sum w_i (y_i - f(x_i))^2 subject to f non-decreasing. Ties in x are pooled first.
    """
    xa = np.asarray(x, dtype=np.float64).ravel()
    ya = np.asarray(y, dtype=np.float64).ravel()
    wa = np.ones_like(xa) if weight is None else np.asarray(weight, dtype=np.float64).ravel()
    if xa.size == 0:
        return np.zeros(0), np.zeros(0)
    order = np.argsort(xa, kind="mergesort")
    xs, ys, ws = xa[order], ya[order], wa[order]
    # pool exact ties in x (vectorized): one point per distinct x with the weighted mean
    ux, start = np.unique(xs, return_index=True)
    wsum = np.add.reduceat(ws, start)
    ymean = np.add.reduceat(ws * ys, start) / np.where(wsum > 0, wsum, 1.0)
    # stack-based PAV over the distinct points (O(n) amortized; fitting is not a hot path)
    blk_val: list[float] = []
    blk_w: list[float] = []
    blk_n: list[int] = []
    for v, w in zip(ymean.tolist(), wsum.tolist()):
        blk_val.append(v)
        blk_w.append(w)
        blk_n.append(1)
        while len(blk_val) > 1 and blk_val[-2] > blk_val[-1]:
            w2 = blk_w[-2] + blk_w[-1]
            v2 = (blk_val[-2] * blk_w[-2] + blk_val[-1] * blk_w[-1]) / w2 if w2 > 0 else blk_val[-1]
            n2 = blk_n[-2] + blk_n[-1]
            del blk_val[-1], blk_w[-1], blk_n[-1]
            blk_val[-1], blk_w[-1], blk_n[-1] = v2, w2, n2
    fitted = np.repeat(np.asarray(blk_val), np.asarray(blk_n))
    return ux, fitted


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, PROB_EPS, 1.0 - PROB_EPS)
    return np.log(p / (1.0 - p))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


@dataclass(frozen=True)
class IsotonicMap:
    """Monotone piecewise-linear map through the PAV knots; flat outside the fitted range."""

    x_knots: tuple[float, ...]
    y_knots: tuple[float, ...]

    def __call__(self, p: Any) -> np.ndarray:
        p = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
        if not self.x_knots:
            return p
        return np.clip(np.interp(p, self.x_knots, self.y_knots), 0.0, 1.0)

    def to_dict(self) -> dict[str, Any]:
        return {"method": "isotonic", "x_knots": list(self.x_knots), "y_knots": list(self.y_knots)}


@dataclass(frozen=True)
class PlattMap:
    """Logistic recalibration: ``p' = sigmoid(a * logit(p) + b)`` (a > 0 keeps it monotone)."""

    a: float
    b: float

    def __call__(self, p: Any) -> np.ndarray:
        p = np.asarray(p, dtype=np.float64)
        return _sigmoid(self.a * _logit(p) + self.b)

    def to_dict(self) -> dict[str, Any]:
        return {"method": "platt", "a": self.a, "b": self.b}


def fit_isotonic(pred: Any, outcome: Any) -> IsotonicMap:
    """Isotonic calibration map fitted by :func:`pav_isotonic` on (pred, outcome)."""
    p, y = _clean_pairs(pred, outcome)
    xk, yk = pav_isotonic(p, y)
    return IsotonicMap(tuple(float(v) for v in xk), tuple(float(v) for v in yk))


def fit_platt(pred: Any, outcome: Any) -> PlattMap:
    """Platt map fitted by Newton's method on the log-loss of ``sigmoid(a*logit(p)+b)`` with a small
    ridge ``PLATT_L2 * ((a-1)^2 + b^2)`` (identity prior). Identity when there is no data."""
    p, y = _clean_pairs(pred, outcome)
    if p.size == 0:
        return PlattMap(1.0, 0.0)
    z = _logit(p)
    prior = np.array([1.0, 0.0])
    X = np.column_stack([z, np.ones_like(z)])
    n = float(p.size)

    def loss(th: np.ndarray) -> float:
        u = X @ th
        # mean log-loss of sigmoid(u), written stably: log(1 + e^u) - y u
        return float(np.mean(np.logaddexp(0.0, u) - y * u) + PLATT_L2 * np.sum((th - prior) ** 2))

    theta = prior.copy()
    current = loss(theta)
    for _ in range(PLATT_MAX_ITER):
        q = _sigmoid(X @ theta)
        grad = X.T @ (q - y) / n + 2 * PLATT_L2 * (theta - prior)
        hess = (X * (q * (1 - q))[:, None]).T @ X / n + 2 * PLATT_L2 * np.eye(2)
        step = np.linalg.solve(hess, grad)
        scale = 1.0
        while scale > 1e-8:  # backtracking keeps Newton from overshooting
            trial = theta - scale * step
            trial_loss = loss(trial)
            if trial_loss <= current:
                break
            scale *= 0.5
        else:
            break
        theta, improvement = trial, current - trial_loss
        current = trial_loss
        if float(np.max(np.abs(scale * step))) < 1e-10 or improvement < 1e-15:
            break
    a, b = float(theta[0]), float(theta[1])
    if not (math.isfinite(a) and math.isfinite(b)) or a <= 0:
        return PlattMap(1.0, 0.0)
    return PlattMap(a, b)


def brier_score(pred: Any, outcome: Any) -> float | None:
    """Mean squared error of probabilities vs 0/1 outcomes: mean((p - y)^2); None on no data."""
    p, y = _clean_pairs(pred, outcome)
    if p.size == 0:
        return None
    return float(np.mean((p - y) ** 2))


def log_loss(pred: Any, outcome: Any) -> float | None:
    """Mean negative log-likelihood of 0/1 outcomes, p clipped to [1e-6, 1 - 1e-6]:
    -mean(y ln p + (1 - y) ln(1 - p)); None on no data."""
    p, y = _clean_pairs(pred, outcome)
    if p.size == 0:
        return None
    p = np.clip(p, PROB_EPS, 1.0 - PROB_EPS)
    return float(-np.mean(y * np.log(p) + (1.0 - y) * np.log(1.0 - p)))


def horizon_bucket(hours_to_close: float) -> str:
    """The HORIZON_LABELS bucket of a time to the close in hours (<1h, 1-2h, 2-4h, >=4h)."""
    h = max(float(hours_to_close), 0.0) if math.isfinite(hours_to_close) else 0.0
    return HORIZON_LABELS[int(np.searchsorted(HORIZON_EDGES_HOURS, h, side="right")) - 1]


def select_model(pred_calibrated: Any, baseline: Any, outcome: Any) -> dict[str, Any]:
    """Held-out comparison for one (target, bucket). The calibrated model is used only if, on at least
    MIN_HELD_OUT_PAIRS pairs, it beats the baseline clearly on Brier (the paired squared-error
    difference d = (p_cal - y)^2 - (p_base - y)^2 has mean + SELECTION_SE_MULTIPLE x SE < 0, SE =
    std(d, ddof=1) / sqrt(n)) AND has a strictly lower log-loss. Returns ``{use_model, n,
    brier_calibrated, brier_baseline, brier_diff, brier_diff_se, log_loss_calibrated,
    log_loss_baseline}``."""
    pc = np.asarray(pred_calibrated, dtype=np.float64).ravel()
    b = np.asarray(baseline, dtype=np.float64).ravel()
    y = np.asarray(outcome, dtype=np.float64).ravel()
    ok = np.isfinite(pc) & np.isfinite(b) & np.isfinite(y)
    pc, b, y = np.clip(pc[ok], 0, 1), np.clip(b[ok], 0, 1), np.clip(y[ok], 0, 1)
    d = (pc - y) ** 2 - (b - y) ** 2
    diff = float(d.mean()) if d.size else None
    se = float(d.std(ddof=1) / math.sqrt(d.size)) if d.size > 1 else None
    loss_cal, loss_base = log_loss(pc, y), log_loss(b, y)
    out: dict[str, Any] = {"n": int(y.size), "brier_calibrated": brier_score(pc, y),
                           "brier_baseline": brier_score(b, y), "brier_diff": diff, "brier_diff_se": se,
                           "log_loss_calibrated": loss_cal, "log_loss_baseline": loss_base}
    out["use_model"] = bool(y.size >= MIN_HELD_OUT_PAIRS and diff is not None and se is not None
                            and diff + SELECTION_SE_MULTIPLE * se < 0
                            and loss_cal is not None and loss_base is not None and loss_cal < loss_base)
    return out


def reliability_table(pred: Any, outcome: Any, n_bins: int = 10) -> list[dict[str, Any]]:
    """Equal-width bins on [0, 1]: ``{bin_lo, bin_hi, count, mean_predicted, observed_frequency}``.

    The last bin is closed (p = 1 falls in it); empty bins report None means."""
    p, y = _clean_pairs(pred, outcome)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, n_bins - 1)
    count = np.bincount(idx, minlength=n_bins)
    sum_p = np.bincount(idx, weights=p, minlength=n_bins)
    sum_y = np.bincount(idx, weights=y, minlength=n_bins)
    rows = []
    for i in range(n_bins):
        c = int(count[i])
        rows.append({
            "bin_lo": float(edges[i]),
            "bin_hi": float(edges[i + 1]),
            "count": c,
            "mean_predicted": float(sum_p[i] / c) if c else None,
            "observed_frequency": float(sum_y[i] / c) if c else None,
        })
    return rows


@dataclass(frozen=True)
class Calibration:
    """Per-target calibration maps plus provenance.

    ``source`` is the file name shown in ``calibration_method`` (``isotonic:<source>``);
    ``stats[target]`` holds ``{"n", "brier_before", "brier_after"}`` from the fit;
    ``selection[target][bucket]`` the held-out comparison of :func:`select_model` per
    time-to-close bucket (HORIZON_LABELS): the model is used only where ``use_model`` is true."""

    method: str
    maps: Mapping[str, IsotonicMap | PlattMap]
    source: str = ""
    stats: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    selection: Mapping[str, Mapping[str, Mapping[str, Any]]] = field(default_factory=dict)

    def label(self) -> str:
        return f"{self.method}:{self.source or 'memory'}"

    def has(self, target: str) -> bool:
        return target in self.maps

    def selects_model(self, target: str, hours_to_close: float) -> tuple[bool, str]:
        """(use the calibrated model?, reason if not): ``not_fitted`` (no map for the target),
        ``not_validated`` (no held-out comparison for this bucket, or too few pairs),
        ``lost_to_baseline`` (the model did not beat the baseline on both Brier and log-loss)."""
        if target not in self.maps:
            return False, "not_fitted"
        sel = (self.selection.get(target) or {}).get(horizon_bucket(hours_to_close))
        if sel is None or int(sel.get("n") or 0) < MIN_HELD_OUT_PAIRS:
            return False, "not_validated"
        return (True, "") if sel.get("use_model") else (False, "lost_to_baseline")

    def with_selection(self, selection: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> Calibration:
        return Calibration(self.method, self.maps, self.source, self.stats, selection)

    def apply(self, target: str, p: Any) -> np.ndarray:
        """Calibrated probability for ``target``; identity if the target was not fitted."""
        m = self.maps.get(target)
        arr = np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)
        return arr if m is None else np.clip(m(arr), 0.0, 1.0)

    def with_source(self, source: str) -> Calibration:
        return Calibration(self.method, self.maps, source, self.stats, self.selection)


def fit_calibration(pairs_by_target: Mapping[str, tuple[Any, Any]], method: str = "isotonic",
                    source: str = "") -> Calibration:
    """Fit one map per target from ``{target: (pred ndarray, outcome ndarray)}``.

    ``method`` is ``isotonic`` (PAV) or ``platt``. Records n and the in-sample Brier score before
    and after in ``stats``."""
    if method not in CALIBRATION_METHODS:
        raise ValueError(f"unknown calibration method {method!r}; expected one of {CALIBRATION_METHODS}")
    maps: dict[str, IsotonicMap | PlattMap] = {}
    stats: dict[str, dict[str, Any]] = {}
    for target, (pred, outcome) in pairs_by_target.items():
        p, y = _clean_pairs(pred, outcome)
        m = fit_isotonic(p, y) if method == "isotonic" else fit_platt(p, y)
        maps[target] = m
        stats[target] = {"n": int(p.size), "brier_before": brier_score(p, y),
                         "brier_after": brier_score(m(p), y) if p.size else None}
    return Calibration(method, maps, source, stats)


def calibration_to_dict(cal: Calibration) -> dict[str, Any]:
    """JSON-ready document: ``{"schema", "method", "source", "targets": {t: map}, "stats", "selection"}``."""
    return {"schema": CALIBRATION_SCHEMA, "method": cal.method, "source": cal.source,
            "targets": {t: m.to_dict() for t, m in cal.maps.items()},
            "stats": {t: dict(s) for t, s in cal.stats.items()},
            "selection": {t: {b: dict(v) for b, v in sel.items()} for t, sel in cal.selection.items()}}


def calibration_from_dict(doc: Mapping[str, Any], source: str = "") -> Calibration:
    """Inverse of :func:`calibration_to_dict`; raises ValueError naming the bad key."""
    if doc.get("schema") not in READABLE_SCHEMAS:
        raise ValueError(f"calibration schema {doc.get('schema')!r} not in {READABLE_SCHEMAS}")
    method = doc.get("method")
    if method not in CALIBRATION_METHODS:
        raise ValueError(f"calibration 'method' {method!r} not in {CALIBRATION_METHODS}")
    maps: dict[str, IsotonicMap | PlattMap] = {}
    for target, m in (doc.get("targets") or {}).items():
        kind = m.get("method")
        if kind == "isotonic":
            xk, yk = m.get("x_knots"), m.get("y_knots")
            if not isinstance(xk, list) or not isinstance(yk, list) or len(xk) != len(yk):
                raise ValueError(f"calibration targets.{target}: x_knots/y_knots must be equal-length lists")
            maps[target] = IsotonicMap(tuple(float(v) for v in xk), tuple(float(v) for v in yk))
        elif kind == "platt":
            maps[target] = PlattMap(float(m["a"]), float(m["b"]))
        else:
            raise ValueError(f"calibration targets.{target}.method {kind!r} not in {CALIBRATION_METHODS}")
    selection = doc.get("selection") or {}
    if not isinstance(selection, dict) or not all(isinstance(v, dict) for v in selection.values()):
        raise ValueError("calibration 'selection' must map target -> {bucket: comparison}")
    return Calibration(method, maps, source or str(doc.get("source") or ""), doc.get("stats") or {}, selection)


def save_calibration(cal: Calibration, path: str | os.PathLike[str]) -> None:
    """Write ``cal`` as JSON to ``path`` (source is set to the file's base name)."""
    cal = cal.with_source(os.path.basename(os.fspath(path)))
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(calibration_to_dict(cal), fh, indent=2, sort_keys=True)
        fh.write("\n")


def load_calibration(path: str | os.PathLike[str]) -> Calibration:
    """Read a calibration JSON file; ``source`` becomes the file's base name."""
    with open(path, encoding="utf-8") as fh:
        doc = json.load(fh)
    try:
        return calibration_from_dict(doc, source=os.path.basename(os.fspath(path)))
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{os.fspath(path)}: {exc}") from exc
