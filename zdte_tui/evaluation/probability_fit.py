"""The probability-calibration harness behind `zdte calibrate`: fit the pin/range calibration on
recorded sessions.

Probability calibration (docs/decision-layer.md, "Calibration" and "Measured calibration"):

* :func:`collect_observations` replays one recording once through a
  :class:`~zdte_tui.service.FlowService`, stopping at each listed ET time (10:00 ... 15:30) to read
  the snapshot's ``probabilities`` block, then scores every block against the realized close
  (the last spot print at or before the cash close):
  ``pin`` is 1 when ``band[0] <= close <= band[1]`` (the pin band around the magnet),
  ``range_1sigma`` / ``range_2sigma`` are 1 when the close is inside the +-1 / +-2 sigma band.
* :func:`collect_pairs` groups them per target as ``(predicted, outcome, baseline)`` arrays;
  predicted is ``model_value`` (before any calibration), baseline the plain lognormal.
* :func:`run_calibration` splits the recordings by session date into training days and held-out
  days (the most recent third, or ``holdout`` given explicitly), fits one isotonic (or Platt) map
  per target on the training pairs with :func:`~zdte_tui.engine.calibration.fit_calibration`, then
  compares the calibrated model with the lognormal baseline on the held-out pairs per target and
  time-to-close bucket (Brier AND log-loss, :func:`~zdte_tui.engine.calibration.select_model`) and
  saves maps + that selection as JSON; point ``[probabilities] calibration_file`` at that file. The
  service then shows the calibrated model only in the (target, bucket) cells where it won; elsewhere
  ``value`` is the baseline.

(The open/close inference accuracy harness is :mod:`zdte_tui.evaluation.inference_accuracy`.)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from zdte_tui.engine.calibration import (
    CALIBRATION_METHODS,
    HORIZON_LABELS,
    brier_score,
    fit_calibration,
    horizon_bucket,
    log_loss,
    reliability_table,
    save_calibration,
    select_model,
)
from zdte_tui.engine.probabilities import PROBABILITY_TARGETS
from zdte_tui.errors import UserError

DEFAULT_TIMES_ET = ("10:00", "11:00", "12:00", "13:00", "14:00", "15:00", "15:30", "15:45", "15:55")
HOLDOUT_FRACTION = 1.0 / 3.0                       # the most recent third of the days is held out
CLOSE_COVERAGE_TOLERANCE_NS = 60 * 1_000_000_000  # a recording must reach the close within 1 minute
REPLAY_CHUNK_SECONDS = 30 * 60                     # batch size of the windowed replay (engine-friendly)


class CalibrationError(UserError):
    """A recording cannot be used for calibration (missing, corrupt, no close): names the file."""


@dataclasses.dataclass(frozen=True)
class Observations:
    """One row per (recording, symbol, ET time, target) with a probability and a realized outcome.

    ``predicted`` is the snapshot's ``model_value`` (before calibration), ``baseline`` its
    ``baseline_value`` (lognormal at the ATM IV), ``outcome`` 1.0 if the close fell in ``band``.
    ``hours_to_close`` is the time from the snapshot to the cash close. ``skipped`` lists
    recordings/symbols that gave no rows and why."""

    target: np.ndarray          # str, one of PROBABILITY_TARGETS
    time_et: np.ndarray         # str "HH:MM"
    symbol: np.ndarray          # str
    session_date: np.ndarray    # str ISO date
    hours_to_close: np.ndarray  # float64, h
    predicted: np.ndarray       # float64 in [0, 1]
    baseline: np.ndarray        # float64 in [0, 1] (NaN if the block had none)
    outcome: np.ndarray         # float64 in {0, 1}
    skipped: tuple[str, ...] = ()

    @classmethod
    def concat(cls, parts: Sequence[Observations]) -> Observations:
        if not parts:
            return _empty_observations()
        cols = {f.name: np.concatenate([getattr(p, f.name) for p in parts])
                for f in dataclasses.fields(cls) if f.name != "skipped"}
        return cls(**cols, skipped=tuple(s for p in parts for s in p.skipped))

    def where(self, mask: np.ndarray) -> Observations:
        cols = {f.name: getattr(self, f.name)[mask] for f in dataclasses.fields(self) if f.name != "skipped"}
        return Observations(**cols, skipped=self.skipped)

    def pairs(self) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """``{target: (predicted, outcome, baseline)}`` for the targets that have rows."""
        out = {}
        for target in PROBABILITY_TARGETS:
            m = self.target == target
            if m.any():
                out[target] = (self.predicted[m], self.outcome[m], self.baseline[m])
        return out


def _empty_observations(skipped: Iterable[str] = ()) -> Observations:
    s = np.zeros(0, dtype=object)
    f = np.zeros(0, dtype=np.float64)
    return Observations(s, s, s, s, f, f, f, f, tuple(skipped))


def without_calibration(settings):
    """The settings with no calibration file: pairs are collected on the raw model values."""
    if settings is None:
        from zdte_tui.config import default_settings

        settings = default_settings()
    if not settings.probabilities.calibration_file:
        return settings
    return settings.model_copy(update={"probabilities": settings.probabilities.model_copy(
        update={"calibration_file": ""})})


def _open_recording(path: str | Path):
    from zdte_tui.store.reader import Recording, RecordingError

    p = Path(path)
    if not p.exists():
        raise CalibrationError(f"recording not found: {p}")
    try:
        return Recording.open(p)
    except RecordingError as exc:
        raise CalibrationError(f"cannot calibrate on {p}: {exc.problem}") from None


def realized_close(spot_ts_ns: np.ndarray, spot_price: np.ndarray, close_ns: int) -> float | None:
    """The close = the last spot print at or before ``close_ns``; None if the prints stop more than
    a minute before the close (the session's outcome is unknown)."""
    k = int(np.searchsorted(spot_ts_ns, close_ns, side="right")) - 1
    if k < 0 or int(spot_ts_ns[k]) < close_ns - CLOSE_COVERAGE_TOLERANCE_NS:
        return None
    px = float(spot_price[k])
    return px if math.isfinite(px) and px > 0 else None


def band_outcome(close: float, band: Sequence[float]) -> float:
    """1.0 if ``band[0] <= close <= band[1]`` else 0.0 (the same closed interval the model integrates)."""
    return 1.0 if float(band[0]) <= close <= float(band[1]) else 0.0


def collect_observations(recording_path: str | Path, settings=None,
                         times: Sequence[str] = DEFAULT_TIMES_ET) -> Observations:
    """Replay ``recording_path`` once, stopping at each ET time in ``times`` for a snapshot per symbol;
    score each probability block against the realized close. Raises CalibrationError for a missing
    or unreadable file; symbols whose recording stops before the close are listed in ``skipped``."""
    from zdte_tui.market.calendar import et_clock_to_ns, session_bounds_ns
    from zdte_tui.service import FlowService
    from zdte_tui.sources.replay import ReplaySource
    from zdte_tui.store.reader import RecordingError

    rec = _open_recording(recording_path)
    path = Path(recording_path)
    try:
        source = ReplaySource(path, at=None, speed=None, recording=rec)
    except RecordingError as exc:
        raise CalibrationError(f"cannot calibrate on {path}: {exc.problem}") from None
    session_date: dt.date = source.session_date
    try:
        open_ns, close_ns = session_bounds_ns(session_date)
    except ValueError as exc:
        raise CalibrationError(f"cannot calibrate on {path}: {exc}") from None
    closes = {sym: realized_close(rec.underlyings[sym].spot.ts_ns, rec.underlyings[sym].spot.price, close_ns)
              for sym in rec.symbols}
    skipped = [f"{path.name} {sym}: the recording stops before the {session_date} close" for sym, c in
               closes.items() if c is None]
    symbols = [s for s, c in closes.items() if c is not None]
    stops = sorted({(et_clock_to_ns(session_date, t), t) for t in times})
    stops = [(ns, t) for ns, t in stops if open_ns < ns < close_ns]
    if not symbols or not stops:
        if not stops:
            skipped.append(f"{path.name}: none of the times {', '.join(times)} falls inside the session")
        return _empty_observations(skipped)

    svc = FlowService(source, settings=without_calibration(settings))
    rows: dict[str, list] = {k: [] for k in ("target", "time_et", "symbol", "session_date", "hours_to_close",
                                             "predicted", "baseline", "outcome")}
    fed_until: int | None = None
    for stop_ns, label in stops:
        for ev in rec.events(fed_until, stop_ns, REPLAY_CHUNK_SECONDS, definitions_in_force=fed_until is None):
            svc.apply(ev)
        fed_until = stop_ns
        for sym in symbols:
            snap = svc.snapshot(sym)
            probs = snap.get("probabilities")
            if snap.get("body") is None or not probs:
                continue
            for target in PROBABILITY_TARGETS:
                block = probs.get(target) or {}
                pred, band = block.get("model_value"), block.get("band")
                if pred is None or band is None or None in band:
                    continue
                base = block.get("baseline_value")
                rows["target"].append(target)
                rows["time_et"].append(label)
                rows["symbol"].append(sym)
                rows["session_date"].append(session_date.isoformat())
                rows["hours_to_close"].append((close_ns - stop_ns) / 3600e9)
                rows["predicted"].append(float(pred))
                rows["baseline"].append(float("nan") if base is None else float(base))
                rows["outcome"].append(band_outcome(closes[sym], band))
    if not rows["target"]:
        return _empty_observations(skipped + [f"{path.name}: no probability block at any stop"])
    obj = {k: np.asarray(rows[k], dtype=object) for k in ("target", "time_et", "symbol", "session_date")}
    num = {k: np.asarray(rows[k], dtype=np.float64) for k in ("hours_to_close", "predicted", "baseline", "outcome")}
    return Observations(**obj, **num, skipped=tuple(skipped))


def collect_pairs(recording_path: str | Path, settings=None,
                  times: Sequence[str] = DEFAULT_TIMES_ET) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``{target: (predicted model_value, outcome 0/1, baseline lognormal value)}`` from one replay of
    ``recording_path`` (see :func:`collect_observations`)."""
    return collect_observations(recording_path, settings, times).pairs()


class CalibrationSummary(dict):
    """The JSON-ready summary of :func:`run_calibration`; ``str()`` is the report `zdte calibrate` prints."""

    def __str__(self) -> str:
        lines = [f"calibration ({self['method']}) written to {self['out']}",
                 f"  {self['recordings']} recording(s): {self['training_recordings']} training, "
                 f"{self['held_out_recordings']} held out; {self['observations']} snapshots x targets"]
        for s in self.get("skipped", []):
            lines.append(f"  skipped: {s}")
        lines.append("")
        lines.append(f"  {'target':<14}{'n':>6}{'Brier model':>13}{'calibrated':>12}{'lognormal':>11}"
                     "   (training, in-sample)")
        for target, t in self["targets"].items():
            lines.append(f"  {target:<14}{t['n']:>6}{_fmt(t['brier_model']):>13}{_fmt(t['brier_calibrated']):>12}"
                         f"{_fmt(t['brier_baseline']):>11}")
        lines.append("")
        lines.append("  held out: calibrated model vs lognormal baseline per time-to-close bucket; value = the model")
        lines.append("  only where, on >= 20 held-out pairs, its Brier is lower by more than 2 paired standard errors")
        lines.append("  AND its log-loss is lower")
        lines.append(f"  {'target':<14}{'bucket':>7}{'n':>5}{'Brier cal':>11}{'Brier base':>12}{'diff +- SE':>18}"
                     f"{'logloss cal':>13}{'logloss base':>14}   value")
        for target, buckets in self["held_out"].items():
            for bucket, c in buckets.items():
                use = "model" if c["use_model"] else ("baseline" if c["n"] >= 20 else "baseline (too few)")
                diff = ("-" if c.get("brier_diff") is None or c.get("brier_diff_se") is None
                        else f"{c['brier_diff']:+.4f} +- {c['brier_diff_se']:.4f}")
                lines.append(f"  {target:<14}{bucket:>7}{c['n']:>5}{_fmt(c['brier_calibrated']):>11}"
                             f"{_fmt(c['brier_baseline']):>12}{diff:>18}{_fmt(c['log_loss_calibrated']):>13}"
                             f"{_fmt(c['log_loss_baseline']):>14}   {use}")
        if not self["held_out"]:
            lines.append("  (no held-out recording: the model is validated nowhere, value = baseline everywhere)")
        for target, rows in self.get("reliability", {}).items():
            lines.append("")
            lines.append(f"  reliability, held out, {target}: bin  n  mean predicted / observed "
                         "(calibrated model | lognormal)")
            for cal_row, base_row in zip(rows["calibrated"], rows["baseline"]):
                if not (cal_row["count"] or base_row["count"]):
                    continue
                lines.append(f"    {cal_row['bin_lo']:.1f}-{cal_row['bin_hi']:.1f}  {_cell(cal_row):>22} | "
                             f"{_cell(base_row)}")
        return "\n".join(lines)


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.4f}"


def _cell(row: dict) -> str:
    if not row["count"]:
        return "-"
    return f"{row['count']:>4}  {row['mean_predicted']:.3f} / {row['observed_frequency']:.3f}"


def split_holdout(recordings: Sequence[str | Path], fraction: float = HOLDOUT_FRACTION) -> tuple[list, list]:
    """(training, held-out): recordings ordered by session date (then path); the most recent
    ``ceil(fraction * n)`` are held out, none when there is a single recording."""
    from zdte_tui.store.reader import RecordingError, session_date_of

    dated = []
    for p in recordings:
        if not Path(p).exists():
            raise CalibrationError(f"recording not found: {p}")
        try:
            day = session_date_of(p)
        except RecordingError as exc:
            raise CalibrationError(f"cannot calibrate on {p}: {exc.problem}") from None
        dated.append((day or dt.date.min, str(p), p))
    dated.sort()
    n = len(dated)
    k = 0 if n < 2 else min(n - 1, max(1, math.ceil(fraction * n)))
    ordered = [p for _, _, p in dated]
    return ordered[: n - k], ordered[n - k:]


def run_calibration(recordings: Sequence[str | Path], out: str | Path, settings=None,
                    method: str = "isotonic", times: Sequence[str] = DEFAULT_TIMES_ET,
                    holdout: Sequence[str | Path] | None = None) -> CalibrationSummary:
    """Fit on training recordings, select per (target, time-to-close bucket) on held-out ones, save.

    ``holdout`` None: :func:`split_holdout` takes the most recent third of ``recordings``; given:
    ``recordings`` are all training and ``holdout`` all held out. Returns the summary (in-sample
    Brier per target; held-out Brier and log-loss of the calibrated model and of the lognormal per
    bucket with the decision; held-out reliability tables). Raises CalibrationError (a UserError)
    for a missing/corrupt recording or when the training recordings yield no pair."""
    if method not in CALIBRATION_METHODS:
        raise CalibrationError(f"unknown calibration method {method!r}; expected one of {CALIBRATION_METHODS}")
    if not recordings:
        raise CalibrationError("no recordings given")
    train_paths, held_paths = (split_holdout(recordings) if holdout is None else (list(recordings), list(holdout)))
    obs = Observations.concat([collect_observations(p, settings, times) for p in train_paths])
    pairs = obs.pairs()
    if not pairs:
        why = "; ".join(obs.skipped) or "no snapshots with probabilities"
        raise CalibrationError(f"no (prediction, outcome) pairs in {len(train_paths)} training recording(s): {why}")
    cal = fit_calibration({t: (p, y) for t, (p, y, _b) in pairs.items()}, method=method)
    held = Observations.concat([collect_observations(p, settings, times) for p in held_paths])
    selection: dict[str, dict[str, dict]] = {}
    reliability: dict[str, dict[str, list]] = {}
    for target in PROBABILITY_TARGETS:
        m = (held.target == target) & np.isfinite(held.baseline)
        if not m.any() or not cal.has(target):
            continue
        sub = held.where(m)
        pc = cal.apply(target, sub.predicted)
        buckets = np.array([horizon_bucket(h) for h in sub.hours_to_close])
        selection[target] = {b: select_model(pc[buckets == b], sub.baseline[buckets == b], sub.outcome[buckets == b])
                             for b in HORIZON_LABELS if (buckets == b).any()}
        reliability[target] = {"calibrated": reliability_table(pc, sub.outcome),
                               "baseline": reliability_table(sub.baseline, sub.outcome)}
    cal = cal.with_selection(selection)
    out_path = Path(out)
    try:
        save_calibration(cal, out_path)
    except OSError as exc:
        raise CalibrationError(f"cannot write {out_path}: {exc.strerror or exc}") from None
    targets = {}
    for target, (p, y, b) in pairs.items():
        ok_b = np.isfinite(b)
        targets[target] = {"n": int(p.size), "outcome_rate": float(y.mean()), "mean_predicted": float(p.mean()),
                           "brier_model": brier_score(p, y), "brier_calibrated": brier_score(cal.apply(target, p), y),
                           "brier_baseline": brier_score(b[ok_b], y[ok_b]) if ok_b.any() else None,
                           "log_loss_model": log_loss(p, y),
                           "log_loss_baseline": log_loss(b[ok_b], y[ok_b]) if ok_b.any() else None}
    return CalibrationSummary(method=method, out=str(out_path), recordings=len(train_paths) + len(held_paths),
                              training_recordings=len(train_paths), held_out_recordings=len(held_paths),
                              observations=int(obs.target.size + held.target.size),
                              skipped=list(obs.skipped) + list(held.skipped), targets=targets,
                              held_out=selection, reliability=reliability)


__all__ = ["DEFAULT_TIMES_ET", "CalibrationError", "CalibrationSummary", "Observations", "band_outcome",
           "collect_observations", "collect_pairs", "realized_close", "run_calibration", "split_holdout"]
