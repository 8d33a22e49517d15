"""Accuracy benchmark on simulated SPY days (the simulator's truth is the answer key).

    python benchmarks/accuracy.py [--days 20] [--test-days 10] [--accuracy-seeds 5] [--skill-seeds 3] [--section all]

Section 1, probability calibration (docs/decision-layer.md, "Measured calibration"): simulate
``--days`` training, ``--validation-days`` and ``--test-days`` SPY sessions (consecutive trading
days ending ``--end-date``, in that order; seeds differ and ``auto`` cycles the scenarios), record
each with ``zdte_tui.commands.write_simulated_day``, run ``zdte_tui.evaluation.probability_fit.run_calibration``
(the code behind ``zdte calibrate``) with the validation days as its held-out set (fit on training,
select per target and time-to-close bucket on validation), then on the untouched test days print
Brier and log-loss of the raw model, the calibrated model, the lognormal and the served value.

Section 2, open/close inference vs truth (docs/accuracy.md): for ``--accuracy-seeds`` seeds,
run a full simulated SPY day through the service to the close and score the engine's
per-contract net OI delta, open/close bias and effective OI, and its per-print buy/sell sides,
with ``zdte_tui.evaluation.inference_accuracy.measure_inference_accuracy``.

Section 3, skill against the truth across scenarios (docs/accuracy.md): for each of the five scenarios
and ``--skill-seeds`` seeds, the section 2 inference scores and the Brier scores of the probability
blocks, each as model minus its baseline (chance, settled OI or the lognormal), with 95 % bootstrap
intervals over days.

Everything is seeded: the same arguments print the same numbers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

TRAIN_SEED_BASE = 1000   # training day i uses seed 1000 + i
TEST_SEED_BASE = 5000    # test day j uses seed 5000 + j
VALIDATION_SEED_BASE = 3000  # validation day j uses seed 3000 + j
ACCURACY_SEED_BASE = 1   # inference accuracy: seed 1 + i runs scenario SCENARIOS[i % 5] (all five for N = 5)


def session_dates(n: int, end: dt.date) -> list[dt.date]:
    """The ``n`` trading days ending at ``end`` (inclusive), oldest first."""
    from zdte_tui.market.calendar import previous_trading_day, trading_days

    days = trading_days(end, end) or [previous_trading_day(end)]
    while len(days) < n:
        days.insert(0, previous_trading_day(days[0]))
    return days[-n:]


def simulate_recordings(workdir: Path, symbol: str, dates: list[dt.date], seed_base: int, tag: str) -> list[Path]:
    from zdte_tui.commands import write_simulated_day

    paths = []
    for i, d in enumerate(dates):
        path = workdir / f"{tag}-{d.isoformat()}-{seed_base + i}.parquet"
        if not path.exists():
            write_simulated_day(path, [symbol], session_date=d, seed=seed_base + i, scenario="auto")
        paths.append(path)
    return paths


def fmt(x) -> str:
    return "-" if x is None else f"{x:.4f}"


def calibration_section(args) -> None:
    """Train / validation / test: ``run_calibration`` fits on the training days and decides, per target
    and time-to-close bucket, on the validation days whether the calibrated model beats the lognormal
    (Brier AND log-loss); the untouched test days then score what the product would show."""
    from zdte_tui.engine.calibration import HORIZON_LABELS, brier_score, horizon_bucket, load_calibration, log_loss
    from zdte_tui.evaluation.probability_fit import Observations, collect_observations, run_calibration

    n_val = args.validation_days
    dates = session_dates(args.days + n_val + args.test_days, dt.date.fromisoformat(args.end_date))
    train_dates, val_dates, test_dates = (dates[: args.days], dates[args.days: args.days + n_val],
                                          dates[args.days + n_val:])
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="zdte-accuracy-"))
    workdir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    train = simulate_recordings(workdir, args.symbol, train_dates, TRAIN_SEED_BASE, "train")
    val = simulate_recordings(workdir, args.symbol, val_dates, VALIDATION_SEED_BASE, "val")
    test = simulate_recordings(workdir, args.symbol, test_dates, TEST_SEED_BASE, "test")
    t1 = time.perf_counter()
    out = workdir / "calibration.json"
    summary = run_calibration([str(p) for p in train], out, method=args.method, holdout=[str(p) for p in val])
    t2 = time.perf_counter()
    held = Observations.concat([collect_observations(p) for p in test])
    t3 = time.perf_counter()
    cal = load_calibration(out)

    print(f"## Probability calibration: {args.symbol}, {len(train)} training days "
          f"({train_dates[0]}..{train_dates[-1]}, seeds {TRAIN_SEED_BASE}+), {len(val)} validation days "
          f"({val_dates[0]}..{val_dates[-1]}, seeds {VALIDATION_SEED_BASE}+), {len(test)} test days "
          f"({test_dates[0]}..{test_dates[-1]}, seeds {TEST_SEED_BASE}+), method {args.method}")
    print(f"(simulate+record {t1 - t0:.0f} s, fit+validate {t2 - t1:.0f} s, test replay {t3 - t2:.0f} s; "
          f"recordings in {workdir}{'' if args.workdir else ', removed at the end'})\n")
    print("`zdte calibrate` output (training in-sample; validation comparison and decision per bucket):\n")
    print("```")
    print(summary)
    print("```\n")
    print("Test days: Brier / log-loss per target and time-to-close bucket. `served` is what `value` shows "
          "(the calibrated model where validation selected it, else the lognormal); the last column is "
          "served - lognormal Brier, paired, +- 1 SE.\n")
    print("| target | bucket | n | outcome rate | Brier model | Brier calibrated | Brier lognormal | Brier served "
          "| log-loss model | log-loss lognormal | log-loss served | served - lognormal |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for target in ("pin", "range_1sigma", "range_2sigma"):
        m = (held.target == target) & np.isfinite(held.baseline)
        if not m.any():
            continue
        sub = held.where(m)
        buckets = np.array([horizon_bucket(h) for h in sub.hours_to_close])
        calibrated = cal.apply(target, sub.predicted) if cal.has(target) else sub.predicted
        use = np.array([cal.selects_model(target, h)[0] for h in sub.hours_to_close], dtype=bool)
        served = np.where(use, calibrated, sub.baseline)
        for bucket in (*HORIZON_LABELS, "all"):
            k = np.ones(buckets.size, bool) if bucket == "all" else buckets == bucket
            if not k.any():
                continue
            y = sub.outcome[k]
            diff = (served[k] - y) ** 2 - (sub.baseline[k] - y) ** 2
            se = float(diff.std(ddof=1) / np.sqrt(diff.size)) if diff.size > 1 else float("nan")
            print(f"| {target} | {bucket} | {int(k.sum())} | {y.mean():.3f} | "
                  f"{fmt(brier_score(sub.predicted[k], y))} | "
                  f"{fmt(brier_score(calibrated[k], y))} | {fmt(brier_score(sub.baseline[k], y))} | "
                  f"{fmt(brier_score(served[k], y))} | {fmt(log_loss(sub.predicted[k], y))} | "
                  f"{fmt(log_loss(sub.baseline[k], y))} | {fmt(log_loss(served[k], y))} | "
                  f"{diff.mean():+.4f} +- {se:.4f} |")
    print()
    if not args.workdir:  # a temp dir of our own: ~40 recordings
        shutil.rmtree(workdir, ignore_errors=True)


INFERENCE_ROWS = (
    ("side_accuracy", "print side = truth customer side (all prints; mid = wrong)"),
    ("side_accuracy_size_weighted", "  same, weighted by size"),
    ("side_accuracy_classified", "  same, among prints given a side"),
    ("side_coverage", "  share of prints given a side (not mid)"),
    ("side_majority_baseline", "  chance: share of the commoner true side"),
    ("bias_label_accuracy_volume_weighted", "bias label (open/close/unknown) = truth, volume-weighted"),
    ("bias_majority_baseline_volume_weighted", "  chance: volume share of the commonest true label"),
    ("bias_sign_accuracy_volume_weighted", "  opening vs closing right, where both call one"),
    ("bias_sign_coverage_volume_weighted", "  volume share where both call one"),
    ("delta_sign_accuracy_volume_weighted", "sign(net OI delta) = sign(true), volume-weighted"),
    ("delta_correlation", "corr(estimated, true net OI delta), traded contracts"),
    ("delta_mae_over_volume", "sum abs(est - true delta) / volume"),
    ("true_abs_delta_over_volume", "  scale: sum abs(true delta) / volume"),
    ("net_opening_ratio", "chain net OI change found: sum est / sum true"),
    ("effective_oi_abs_error", "sum abs(effective OI - true EOD OI)"),
    ("settled_oi_abs_error", "  naive: sum abs(settled OI - true EOD OI)"),
    ("effective_oi_closer_share", "share of traded contracts where effective OI is closer"),
)


def inference_section(args) -> None:
    from zdte_tui.evaluation.inference_accuracy import measure_inference_accuracy
    from zdte_tui.sources.sim_model import SCENARIOS

    date = dt.date.fromisoformat(args.end_date)
    seeds = [ACCURACY_SEED_BASE + i for i in range(args.accuracy_seeds)]
    t0 = time.perf_counter()
    results = [measure_inference_accuracy(args.symbol, date, seed, SCENARIOS[i % len(SCENARIOS)])
               for i, seed in enumerate(seeds)]
    t1 = time.perf_counter()
    print(f"## Open/close inference vs simulator truth: {args.symbol} {date}, seeds {seeds} "
          f"({t1 - t0:.0f} s)\n")
    head = " | ".join(f"seed {r['seed']} {r['scenario']}" for r in results)
    print(f"| metric | {head} | mean |")
    print("|---|" + "---|" * (len(results) + 1))
    for key, label in INFERENCE_ROWS:
        vals = [r[key] for r in results]
        finite = [v for v in vals if v is not None]
        big = key.endswith("abs_error")

        def cell(v, big=big):
            return "-" if v is None else (f"{v:,.0f}" if big else f"{v:.3f}")

        mean = float(np.mean(finite)) if finite else None
        print(f"| {label} | " + " | ".join(cell(v) for v in vals) + f" | {cell(mean)} |")
    print()
    print("| prints | " + " | ".join(f"{r['prints']:,}" for r in results) + " | |")
    print("| traded contracts | " + " | ".join(str(r["contracts_traded"]) for r in results) + " | |")
    print()
    print(f"Through the day (mean over the {len(results)} seeds; regime columns count seeds that agree):\n")
    print("| time ET | eff. OI abs error, % of true OI | settled OI abs error, % | corr(est, true OI change) "
          "| net GEX error, % of gross (eff. vs true OI) | same, settled OI | regime sign agrees "
          "| net GEX vs true dealer book, % of gross | regime vs true dealer book agrees |")
    print("|---|---|---|---|---|---|---|---|---|")
    labels = [row["time_et"] for row in results[0]["by_time"]]
    for i, label in enumerate(labels):
        rows = [r["by_time"][i] for r in results]

        def mean(key, rows=rows):
            vals = [row[key] for row in rows if row.get(key) is not None]
            return f"{np.mean(vals):.1f}" if vals else "-"

        def agree(key, rows=rows):
            vals = [row[key] for row in rows if row.get(key) is not None]
            return f"{int(sum(vals))}/{len(vals)}" if vals else "-"

        corr = [row["delta_correlation"] for row in rows if row["delta_correlation"] is not None]
        print(f"| {label} | {mean('oi_abs_error_pct_of_true')} | {mean('settled_abs_error_pct_of_true')} | "
              f"{np.mean(corr):.2f} | {mean('net_gex_error_pct_of_gross')} | "
              f"{mean('net_gex_settled_error_pct_of_gross')} | {agree('regime_agrees')} | "
              f"{mean('net_gex_vs_true_dealer_error_pct_of_gross')} | {agree('regime_agrees_true_dealer')} |")
    print()
    conf = np.mean([np.asarray(r["bias_confusion_volume_share"]) for r in results], axis=0)
    names = ("closing", "unknown", "opening")
    print(f"Bias labels at the close, share of traded volume (mean of {len(results)} seeds; rows engine, "
          "columns truth):\n")
    print("| engine label / true label | " + " | ".join(names) + " |")
    print("|---|---|---|---|")
    for i, name in enumerate(names):
        print(f"| {name} | " + " | ".join(f"{conf[i, j]:.3f}" for j in range(3)) + " |")
    print()


SKILL_SEED_BASE = 7000  # skill day i of a scenario uses seed 7000 + i

SKILL_ROWS = (
    # (label, model key, baseline key or constant, higher is better)
    ("print side right (classified prints) - always the commoner side", "side_accuracy_classified",
     "side_majority_baseline", True),
    ("bias label right (volume-weighted) - always the commonest true label", "bias_label_accuracy_volume_weighted",
     "bias_majority_baseline_volume_weighted", True),
    ("sign(net OI delta) right (volume-weighted) - always the commoner true sign",
     "delta_sign_accuracy_volume_weighted", "delta_sign_majority_baseline_volume_weighted", True),
    ("effective OI error / settled OI error (below 1: better than settled OI)", "effective_oi_error_ratio", 1.0, False),
)


def bootstrap_ci(values: np.ndarray, n_boot: int = 4000, seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values`` (days resampled with replacement)."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if v.size < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, v.size, (n_boot, v.size))].mean(axis=1)
    a = (1 - level) / 2
    return float(np.quantile(means, a)), float(np.quantile(means, 1 - a))


def skill_section(args) -> None:
    """Inference and probability skill against the simulator's truth, per scenario, with intervals."""
    from zdte_tui.commands import write_simulated_day
    from zdte_tui.engine.calibration import brier_score
    from zdte_tui.evaluation.inference_accuracy import measure_inference_accuracy
    from zdte_tui.evaluation.probability_fit import collect_observations
    from zdte_tui.sources.sim_model import SCENARIOS

    date = dt.date.fromisoformat(args.end_date)
    workdir = Path(tempfile.mkdtemp(prefix="zdte-skill-"))
    rows = []  # one dict per day
    t0 = time.perf_counter()
    for scenario in SCENARIOS:
        for i in range(args.skill_seeds):
            seed = SKILL_SEED_BASE + i
            r = measure_inference_accuracy(args.symbol, date, seed, scenario)
            r["effective_oi_error_ratio"] = r["effective_oi_abs_error"] / max(r["settled_oi_abs_error"], 1e-9)
            path = workdir / f"skill-{scenario}-{seed}.parquet"
            write_simulated_day(path, [args.symbol], session_date=date, seed=seed, scenario=scenario)
            obs = collect_observations(path)
            path.unlink()
            for target, (p, y, b) in obs.pairs().items():
                ok = np.isfinite(b)
                r[f"brier_model_{target}"] = brier_score(p[ok], y[ok])
                r[f"brier_baseline_{target}"] = brier_score(b[ok], y[ok])
            r["scenario_name"] = scenario
            rows.append(r)
    shutil.rmtree(workdir, ignore_errors=True)
    t1 = time.perf_counter()
    print(f"## Skill against the simulator's truth: {args.symbol} {date}, {len(SCENARIOS)} scenarios x "
          f"{args.skill_seeds} seeds ({SKILL_SEED_BASE}+), {t1 - t0:.0f} s\n")
    print("Each cell: mean over days of (model - baseline), [95 % bootstrap interval over days]; "
          "'beats' says whether the interval excludes 0 on the better side.\n")
    groups = [(s, [r for r in rows if r["scenario_name"] == s]) for s in SCENARIOS] + [("all", rows)]
    print("| measure | " + " | ".join(g for g, _ in groups) + " |")
    print("|---|" + "---|" * len(groups))

    def cell(days, key, base, higher):
        vals = []
        for d in days:
            m = d.get(key)
            b = base if isinstance(base, float) else d.get(base)
            if m is not None and b is not None:
                vals.append(m - b)
        if not vals:
            return "-"
        lo, hi = bootstrap_ci(np.array(vals))
        mean = float(np.mean(vals))
        beats = (lo > 0) if higher else (hi < 0)
        worse = (hi < 0) if higher else (lo > 0)
        verdict = "beats" if beats else ("**worse**" if worse else "no difference")
        return f"{mean:+.3f} [{lo:+.3f}, {hi:+.3f}] {verdict}"

    for label, key, base, higher in SKILL_ROWS:
        print(f"| {label} | " + " | ".join(cell(days, key, base, higher) for _, days in groups) + " |")
    for target in ("pin", "range_1sigma", "range_2sigma"):
        print(f"| Brier {target}: model - lognormal baseline (below 0: model better) | "
              + " | ".join(cell(days, f"brier_model_{target}", f"brier_baseline_{target}", False)
                           for _, days in groups) + " |")
    print()
    print("Means per scenario (model / baseline):\n")
    print("| scenario | side classified | side chance | bias label | bias chance | delta sign / chance | "
          "eff/settled OI err "
          "| Brier pin model / base | Brier 1σ model / base |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, days in groups:
        def m(key):
            vals = [d[key] for d in days if d.get(key) is not None]
            return f"{np.mean(vals):.3f}" if vals else "-"
        print(f"| {name} | {m('side_accuracy_classified')} | {m('side_majority_baseline')} | "
              f"{m('bias_label_accuracy_volume_weighted')} | {m('bias_majority_baseline_volume_weighted')} | "
              f"{m('delta_sign_accuracy_volume_weighted')} / {m('delta_sign_majority_baseline_volume_weighted')} | "
              f"{m('effective_oi_error_ratio')} | "
              f"{m('brier_model_pin')} / {m('brier_baseline_pin')} | "
              f"{m('brier_model_range_1sigma')} / {m('brier_baseline_range_1sigma')} |")
    print()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--days", type=int, default=20, help="training days (default 20)")
    ap.add_argument("--validation-days", type=int, default=10,
                    help="days on which the model must beat the baseline to be served (default 10)")
    ap.add_argument("--test-days", type=int, default=10, help="untouched test days (default 10)")
    ap.add_argument("--accuracy-seeds", type=int, default=5, help="seeds for the inference section (default 5)")
    ap.add_argument("--symbol", default="SPY")
    ap.add_argument("--end-date", default="2025-06-13", help="last simulated session (held-out days end here)")
    ap.add_argument("--method", default="isotonic", choices=("isotonic", "platt"))
    ap.add_argument("--bins", type=int, default=10)
    ap.add_argument("--workdir", default=None, help="keep/reuse recordings here (default: a temp dir)")
    ap.add_argument("--skill-seeds", type=int, default=3, help="seeds per scenario for the skill section (default 3)")
    ap.add_argument("--section", default="all", choices=("all", "calibration", "inference", "skill"))
    args = ap.parse_args()
    print(f"zdte accuracy benchmark, run {dt.datetime.now().strftime('%Y-%m-%d %H:%M')} "
          f"(python benchmarks/accuracy.py {' '.join(sys.argv[1:])})\n")
    if args.section in ("all", "calibration"):
        calibration_section(args)
    if args.section in ("all", "inference"):
        inference_section(args)
    if args.section in ("all", "skill"):
        skill_section(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
