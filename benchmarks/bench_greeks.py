"""Benchmark: vectorized BSM greeks + implied vol for N contracts on one core.

    python benchmarks/bench_greeks.py            # N = 1,000,000, 5 repeats
    python benchmarks/bench_greeks.py --n 200000 --repeats 9 --cpu 0

The chain is a 0DTE-like snapshot: one spot, one time to expiry (scalar t, as the engine calls it),
strikes with ln(K/S) uniform in +-10%, sigma uniform in [0.05, 3], calls and puts mixed; the IV
input is the model premium of that chain. A second row set uses a per-contract t (5 min .. 1 day)
to show the cost when t does not broadcast. Target: greeks + IV <= 1 s for 1,000,000 contracts.
``implied_vol (guess)`` starts from the true vol moved by 2 % (as from the previous 30 s sample).

Last, ``scipy.special.ndtr`` against the cheapest pure-numpy form a Cody-type ndtr could take (one
8/8 rational in |x| times exp(-x^2/2) and a reflection; a full one needs two more rationals for the
small and tail ranges on top), at a live sample's size (800) and a replay chunk's (48,000): the
measurement behind keeping scipy on the engine's path (docs/model.md section 14).

Reports wall time (perf_counter) and CPU time of this process (process_time), min and median over
the repeats; CPU time is the fairer number on a shared machine. numpy ufuncs run single-threaded;
the BLAS thread variables are pinned to 1 anyway, and --cpu pins the process to one core.
"""

from __future__ import annotations

import argparse
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from zdte_tui.engine.greeks import SECONDS_PER_YEAR, bs_greeks, bs_price, implied_vol  # noqa: E402


def make_chain(n: int, seed: int, scalar_t: bool):
    rng = np.random.default_rng(seed)
    spot = 5_000.0
    strike = spot * np.exp(rng.uniform(-0.10, 0.10, n))
    sigma = rng.uniform(0.05, 3.0, n)
    is_call = rng.random(n) < 0.5
    if scalar_t:
        t = 2.0 * 3600.0 / SECONDS_PER_YEAR  # two hours before the close
    else:
        t = np.exp(rng.uniform(np.log(300.0), np.log(86400.0), n)) / SECONDS_PER_YEAR
    r, q = 0.045, 0.013
    return dict(is_call=is_call, S=spot, K=strike, t=t, r=r, q=q, sigma=sigma)


def timed(fn, repeats: int):
    walls, cpus = [], []
    result = None
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        cpus.append(time.process_time() - c0)
        walls.append(time.perf_counter() - w0)
    return result, walls, cpus


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="contracts per call (default 1e6)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per row (default 5)")
    parser.add_argument("--seed", type=int, default=20240101)
    parser.add_argument("--cpu", type=int, default=None, help="pin the process to this core")
    args = parser.parse_args(argv)
    if args.cpu is not None and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})

    print(f"n = {args.n:,} contracts, {args.repeats} repeats, numpy {np.__version__}")
    print(f"{'case':<34} {'wall min':>9} {'wall med':>9} {'cpu min':>9} {'cpu med':>9}")
    for scalar_t in (True, False):
        chain = make_chain(args.n, args.seed, scalar_t)
        c = chain
        premium = bs_price(c["is_call"], c["S"], c["K"], c["t"], c["r"], c["q"], c["sigma"])
        label = "scalar t" if scalar_t else "per-contract t"

        def greeks():
            return bs_greeks(c["is_call"], c["S"], c["K"], c["t"], c["r"], c["q"], c["sigma"])

        def iv():
            return implied_vol(c["is_call"], premium, c["S"], c["K"], c["t"], c["r"], c["q"])

        guess = c["sigma"] * np.random.default_rng(args.seed + 1).uniform(0.98, 1.02, args.n)

        def iv_guess():
            return implied_vol(c["is_call"], premium, c["S"], c["K"], c["t"], c["r"], c["q"], guess=guess)

        def both():
            return greeks(), iv()

        greeks()  # warm up (page faults, imports)
        rows = {}
        for name, fn in (("bs_greeks", greeks), ("implied_vol", iv), ("implied_vol (guess)", iv_guess),
                         ("greeks + implied_vol", both)):
            rows[name] = timed(fn, args.repeats)
            _, walls, cpus = rows[name]
            print(f"{name + ' (' + label + ')':<34} {min(walls):9.3f} {statistics.median(walls):9.3f} "
                  f"{min(cpus):9.3f} {statistics.median(cpus):9.3f}")
        sigma_out = rows["implied_vol"][0]
        solved = np.isfinite(sigma_out)
        reprice = bs_price(c["is_call"], c["S"], c["K"], c["t"], c["r"], c["q"], np.where(solved, sigma_out, 1.0))
        err = np.abs(reprice - premium)[solved] / c["S"]
        print(f"  {label}: IV solved for {solved.mean():.1%} of contracts (the rest have no time value left "
              f"in float64), max |price error| / S = {err.max():.1e}, "
              f"max |iv - sigma| where vega >= 1e-4 S = "
              f"{np.abs(sigma_out - c['sigma'])[solved & (greeks().vega >= 1e-4 * c['S'])].max():.1e}")
    ndtr_rows(args.repeats)
    return 0


def ndtr_rows(repeats: int) -> None:
    """CPU microseconds a call: scipy's ndtr vs a lower bound for any numpy rational ndtr."""
    from scipy.special import ndtr

    rng = np.random.default_rng(0)
    num, den = rng.uniform(0.1, 1.0, 9), rng.uniform(0.1, 1.0, 9)  # stand-in coefficients: speed only

    def numpy_bound(x):
        z = np.abs(x) * 0.7071067811865476
        p, q = np.full_like(z, num[0]), np.full_like(z, den[0])
        for a, b in zip(num[1:], den[1:]):
            p *= z
            p += a
            q *= z
            q += b
        e = np.exp(-z * z) * p / q
        return np.where(x < 0, 0.5 * e, 1.0 - 0.5 * e)

    print(f"\n{'ndtr, CPU us a call':<34} {'n':>9} {'min':>9} {'median':>9}")
    for n in (800, 48_000):
        x = rng.normal(0.0, 3.0, n)
        calls = max(20, 400_000 // n)
        for name, fn in (("scipy.special.ndtr", ndtr), ("numpy rational (lower bound)", numpy_bound)):
            per = []
            for _ in range(repeats):
                c0 = time.process_time()
                for _ in range(calls):
                    fn(x)
                per.append((time.process_time() - c0) / calls * 1e6)
            print(f"{name:<34} {n:>9,} {min(per):9.1f} {statistics.median(per):9.1f}")


if __name__ == "__main__":
    raise SystemExit(main())
