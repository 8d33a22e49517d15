"""A real-scale 0DTE day: record it, replay it, report rows/s and peak RSS (issue 17, "A real-scale day").

    python benchmarks/bench_real_scale.py [--symbol SPX] [--intensity 4] [--date 2026-08-21] [--keep DIR]

Three child processes, each measured on its own (CPU = user + sys seconds and peak RSS from ``os.wait4``,
so other load on the machine does not count):

1. **record**: ``zdte simulate --symbols SPX --intensity 4`` writes the day (the simulator at real scale:
   ~1.5 M prints, a 1-second NBBO for every listed contract, ~18 M quote rows; docs/simulator.md, "Scale")
   through the store's public writer, block by block;
2. **read only**: a process that only reads the same file with ``pyarrow.parquet.read_table`` (the floor);
3. **replay**: ``zdte replay FILE --headless``, the product's own replay with its own settings.

Reports the day's event rows, the file's rows and size, CPU seconds and peak RSS of each step, event rows
(spot + quotes + prints) per CPU second and the replay / read CPU ratio (issue 17 targets: <= 2.0x,
memory flat in the day's length). BLAS pinned to one thread.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def measured(cmd: list[str], env: dict[str, str]) -> tuple[float, float, float, str]:
    """Run ``cmd`` and return (CPU s, peak RSS MB, wall s, stdout) from ``os.wait4`` on that child alone."""
    t = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t
        out.seek(0)
        err.seek(0)
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(cmd[:5])} ... failed ({proc.returncode}):\n{err.read()[-2000:]}")
        return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, wall, out.read()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--symbol", default="SPX")
    ap.add_argument("--intensity", type=float, default=4.0)
    ap.add_argument("--date", default="2026-08-21")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--keep", default=None, help="write the recording into this directory and keep it")
    args = ap.parse_args()
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               MKL_NUM_THREADS="1")
    tmp = tempfile.TemporaryDirectory(prefix="zdte-real-scale-")
    folder = Path(args.keep) if args.keep else Path(tmp.name)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{args.symbol.lower()}_{args.date}_x{args.intensity:g}.zdte"
    path.unlink(missing_ok=True)
    py = sys.executable
    print(f"zdte real-scale benchmark (python benchmarks/bench_real_scale.py {' '.join(sys.argv[1:])})\n")

    rec_cpu, rec_rss, rec_wall, rec_out = measured(
        [py, "-m", "zdte_tui.cli", "simulate", "--symbols", args.symbol, "--intensity", str(args.intensity),
         "--date", args.date, "--seed", str(args.seed), "--out", str(path)], env)
    read_cpu, read_rss, _, out = measured(
        [py, "-c", "import sys, pyarrow.parquet as pq; print(pq.read_table(sys.argv[1]).num_rows)", str(path)], env)
    rows = int(out.split()[0])  # every row of the file, whatever its layout (all kinds, clock and truth rows)
    written = json.loads(rec_out.strip().splitlines()[-1])
    quotes, trades = int(written["quote_rows"]), int(written["prints"])
    events = quotes + trades + int(written["spot_rows"])  # event rows: the rate's numerator in any file layout
    rep_cpu, rep_rss, rep_wall, _ = measured([py, "-m", "zdte_tui.cli", "replay", str(path), "--headless"], env)

    size_mb = path.stat().st_size / 2**20
    print(f"day: {args.symbol} {args.date} seed {args.seed} intensity {args.intensity:g}: {quotes:,} quote rows, "
          f"{trades:,} prints; {rows:,} rows in the file ({size_mb:.0f} MB)\n")
    print("| step | CPU s | peak RSS MB | wall s |")
    print("|---|---|---|---|")
    print(f"| record (`zdte simulate --intensity {args.intensity:g}`) | {rec_cpu:.1f} | {rec_rss:.0f} "
          f"| {rec_wall:.1f} |")
    print(f"| read only (`pq.read_table`) | {read_cpu:.1f} | {read_rss:.0f} | - |")
    print(f"| replay (`zdte replay --headless`) | {rep_cpu:.1f} | {rep_rss:.0f} | {rep_wall:.1f} |")
    print(f"\nreplay: {events / rep_cpu / 1e6:.2f} M event rows per CPU second; replay / read-only CPU "
          f"{rep_cpu / read_cpu:.1f}x (target <= 2.0x); record: {events / rec_cpu / 1e6:.2f} M event rows per CPU "
          "second (event rows: spot, quote and trade rows)")
    if args.keep:
        print(f"kept: {path}")
    tmp.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
