"""One 30 s sample of this checkout's engine against another checkout's, interleaved in one process.

    python benchmarks/bench_sample_compare.py OTHER_CHECKOUT [--rounds 2] [--strikes 400]

The row "one 30 s sample" of bench_engine.py times one engine per process, so on a machine shared with
other work two runs minutes apart see different loads. Here both engines run in the same process: the
``zdte_tui`` package of each checkout is copied to a temporary folder under another name (its imports
renamed), both engines take the same 30 s batches of spot and NBBO (bench_engine.py's session, no prints;
each crosses one sample boundary), and each batch is applied to one engine then the other, the order
alternating, every ``apply`` timed in CPU seconds (time.process_time, BLAS pinned to one thread). Reports
each engine's best, 10th percentile and median, and the median of the per-batch ratios (this / other),
which load moves least; then checks that both engines sampled the same series, bit for bit.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import importlib  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_engine as be  # noqa: E402


def renamed_copy(checkout: Path, name: str, into: Path) -> None:
    """Copy ``checkout/zdte_tui`` to ``into/name`` with every ``zdte_tui`` import renamed."""
    src = checkout / "zdte_tui"
    if not (src / "engine" / "flow_engine.py").is_file():
        raise SystemExit(f"error: {checkout} has no zdte_tui/engine/flow_engine.py")
    dst = into / name
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
    for path in dst.rglob("*.py"):
        path.write_text(path.read_text(encoding="utf-8").replace("zdte_tui", name), encoding="utf-8")


def engine_kit(name: str):
    """(FlowEngine, events module, session_bounds_ns, EngineParams) of the renamed package ``name``."""
    fe = importlib.import_module(f"{name}.engine.flow_engine")
    events = importlib.import_module(f"{name}.market.events")
    calendar = importlib.import_module(f"{name}.market.calendar")
    return fe.FlowEngine, events, calendar.session_bounds_ns, fe.EngineParams


def as_events(events, chain, batches):
    """The chain and the spot/NBBO batches as the given package's event objects."""
    c = events.ChainDefinition(chain.underlying, chain.expiry, chain.strikes, chain.is_call, chain.settled_oi)
    out = [events.EventBatch(b.underlying, b.start_ns, b.end_ns,
                             spot=events.SpotTicks(ts_ns=b.spot.ts_ns, price=b.spot.price),
                             quotes=events.OptionQuotes(ts_ns=b.quotes.ts_ns, contract=b.quotes.contract,
                                                        bid=b.quotes.bid, ask=b.quotes.ask,
                                                        bid_size=b.quotes.bid_size, ask_size=b.quotes.ask_size))
           for b in batches]
    return c, out


def summary(times: list[float]) -> str:
    v = sorted(1e3 * x for x in times)
    return (f"best {v[0]:.3f} ms, p10 {v[len(v) // 10]:.3f} ms, median {statistics.median(v):.3f} ms, "
            f"mean {statistics.mean(v):.3f} ms")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("other", type=Path, help="the other checkout (a folder holding zdte_tui/)")
    ap.add_argument("--rounds", type=int, default=2, help="sessions of batches per engine")
    ap.add_argument("--strikes", type=int, default=400)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    rng = np.random.default_rng(args.seed)
    chain = be.build_chain(args.strikes, 600.0, rng)
    batches = be.without_trades(be.build_session(chain, 1_000_000, 2_000, rng))  # bench_engine's session
    with tempfile.TemporaryDirectory(prefix="zdte-compare-") as tmp:
        renamed_copy(ROOT, "zdte_this", Path(tmp))
        renamed_copy(args.other.resolve(), "zdte_other", Path(tmp))
        sys.path.insert(0, tmp)
        kits = {label: engine_kit(name) for label, name in (("this", "zdte_this"), ("other", "zdte_other"))}
        data = {label: as_events(kit[1], chain, batches) for label, kit in kits.items()}
        times: dict[str, list[float]] = {"this": [], "other": []}
        series = {}
        for _ in range(args.rounds):
            engines = {}
            for label, (flow_engine, _events, bounds, params) in kits.items():
                p = params(flip_grid_points=be.PARAMS.flip_grid_points, flip_grid_pct=be.PARAMS.flip_grid_pct)
                engines[label] = flow_engine(p, session_bounds=bounds)
                engines[label].apply(data[label][0])
            for i in range(len(batches)):
                for label in (("this", "other") if i % 2 else ("other", "this")):
                    t0 = time.process_time()
                    engines[label].apply(data[label][1][i])
                    elapsed = time.process_time() - t0
                    if i >= 10:
                        times[label].append(elapsed)
            series = {label: e.books[chain.underlying].sampler.series for label, e in engines.items()}
    ratios = [a / b for a, b in zip(times["this"], times["other"]) if b > 0]
    print(f"one 30 s sample, {chain.n_contracts} contracts, {len(times['this'])} batches each, interleaved:")
    print(f"  this checkout  ({ROOT}): {summary(times['this'])}")
    print(f"  other checkout ({args.other}): {summary(times['other'])}")
    print(f"  per-batch ratio this/other: median {statistics.median(ratios):.3f}")
    same = all(np.array_equal(series["this"][k], series["other"][k], equal_nan=True)
               for k in series["other"] if k in series["this"])
    print(f"  sampled series equal bit for bit: {'yes' if same else 'NO'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
