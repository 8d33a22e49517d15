"""Replay benchmark, with the product's own settings (the CLI's config, no pinned BLAS threads):

1. ``zdte replay DAY --headless`` as a process vs a process that only reads the same file with
   ``pyarrow.parquet.read_table`` (CPU = user + sys of each child, from ``os.wait4``);
2. in-process: replay through the FlowService exactly as ``zdte replay --headless`` does
   (reader + engine), the reader alone (open + every batch), and ``pq.read_table``;
3. peak RSS of the ``zdte replay`` process on a simulated SPY day and on a SPY+QQQ+IWM+SPX day,
   and on the first half of that day (memory flat in the day's length: the two peaks agree).

    python benchmarks/bench_replay.py [--seed 7] [--date 2026-11-20] [--repeats 3] [--no-four]

CPU time, not wall time (the machine is shared); each figure is the minimum over repeats.
Targets (issue 17): process ratio <= 2.0x, in-process ratio <= 2.0x, SPY peak RSS <= 250 MB,
four symbols <= 300 MB and flat in the day's length.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
FOUR = "SPY,QQQ,IWM,SPX"

READ_ONLY = "import sys, pyarrow.parquet as pq; pq.read_table(sys.argv[1])"
# The child writes its own peak RSS (VmHWM of its address space) at exit: a child's ru_maxrss also
# counts the parent's peak at fork/exec time, which would charge this benchmark's memory to it.
PEAK_RSS = textwrap.dedent("""
    import atexit, runpy, sys
    out = sys.argv.pop(1)
    def report():
        with open("/proc/self/status") as f, open(out, "w") as o:
            o.write(next(line.split()[1] for line in f if line.startswith("VmHWM")))
    atexit.register(report)
    if sys.argv[1] == "-m":
        sys.argv = [sys.argv[2], *sys.argv[3:]]
        runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
    else:
        code, sys.argv = sys.argv[2], ["-c", *sys.argv[3:]]
        exec(compile(code, "<child>", "exec"), {"__name__": "__main__"})
""")
HALF_DAY = textwrap.dedent("""
    import sys
    from zdte_tui.market.calendar import et_clock_to_ns
    from zdte_tui.store.reader import Recording
    from zdte_tui.store.writer import write_recording
    rec = Recording.open(sys.argv[1])
    m = rec.metadata
    stop = et_clock_to_ns(m.session_date, sys.argv[3])
    write_recording(sys.argv[2], rec.events(None, stop, slice_seconds=None), source=m.source,
                    simulated=m.simulated, session_date=m.session_date, symbols=m.symbols, notes=m.notes)
""")


def child(argv: list[str]) -> tuple[float, float, int]:
    """Run ``python argv...``; (CPU seconds user+sys, wall seconds, peak RSS in MB) of that process alone."""
    with tempfile.NamedTemporaryFile("r", suffix=".hwm") as hwm:
        t = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-c", PEAK_RSS, hwm.name, *argv], env=ENV, cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t
        if os.waitstatus_to_exitcode(status):
            raise SystemExit(f"{' '.join(argv)} failed: {proc.stderr.read().decode() if proc.stderr else ''}")
        peak_kb = int(hwm.read() or 0)
    return usage.ru_utime + usage.ru_stime, wall, peak_kb // 1024


def zdte(*args: str) -> list[str]:
    return ["-m", "zdte_tui.cli", *args]


def simulate(out: Path, symbols: str, date: str, seed: int) -> None:
    child(zdte("simulate", "--date", date, "--symbols", symbols, "--seed", str(seed), "--out", str(out)))


def process_rows(path: Path, repeats: int) -> tuple[float, float, int, int]:
    replays, reads, rss_replay, rss_read = [], [], [], []
    for _ in range(repeats):
        cpu, _, rss = child(zdte("replay", str(path), "--headless"))
        replays.append(cpu)
        rss_replay.append(rss)
        cpu, _, rss = child(["-c", READ_ONLY, str(path)])
        reads.append(cpu)
        rss_read.append(rss)
    return min(replays), min(reads), max(rss_replay), max(rss_read)


def in_process_rows(path: Path, repeats: int) -> dict[str, float]:
    import pyarrow.parquet as pq

    from zdte_tui.config import load_config
    from zdte_tui.market.events import EventBatch
    from zdte_tui.service import FlowService
    from zdte_tui.sources.replay import CHUNK_SECONDS, ReplaySource
    from zdte_tui.store.reader import Recording

    settings = load_config(None)  # what `zdte replay` uses without --config
    out: dict[str, list[float]] = {"read_table": [], "reader": [], "replay": []}
    rows = 0
    for _ in range(repeats):
        t = time.process_time()
        pq.read_table(path)
        out["read_table"].append(time.process_time() - t)
        t = time.process_time()
        rec = Recording.open(path)
        rows = sum(len(e.spot) + len(e.quotes) + len(e.trades)
                   for e in rec.events(slice_seconds=CHUNK_SECONDS) if isinstance(e, EventBatch))
        out["reader"].append(time.process_time() - t)
        t = time.process_time()
        svc = FlowService(ReplaySource(path, at=None, speed=None), settings=settings).run_to_end()
        out["replay"].append(time.process_time() - t)
        malformed = svc.status()["malformed_count"]
        if malformed:
            raise SystemExit(f"replay counted {malformed} malformed events on a simulated day")
    best = {k: min(v) for k, v in out.items()}
    best["rows"] = rows
    best["flip_grid_points"] = settings.engine.flip_grid_points
    return best


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--date", default="2026-11-20")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-four", action="store_true", help="skip the SPY+QQQ+IWM+SPX rows")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        spy = Path(tmp) / "spy.parquet"
        simulate(spy, "SPY", args.date, args.seed)
        import pyarrow.parquet as pq

        meta = pq.read_metadata(spy)
        print(f"simulated SPY day: {spy.stat().st_size / 1e6:.1f} MB, {meta.num_rows:,} rows, "
              f"{meta.num_row_groups} row groups")

        replay, read, rss_replay, rss_read = process_rows(spy, args.repeats)
        print(f"process CPU: zdte replay --headless {replay:.2f} s, pyarrow read_table process {read:.2f} s "
              f"-> {replay / read:.2f}x   (target <= 2.0x)")
        ip = in_process_rows(spy, args.repeats)
        print(f"in-process CPU (flip grid {ip['flip_grid_points']} points): replay via FlowService "
              f"{ip['replay'] * 1e3:.0f} ms (reader alone {ip['reader'] * 1e3:.0f} ms, engine and service "
              f"{(ip['replay'] - ip['reader']) * 1e3:.0f} ms), pq.read_table {ip['read_table'] * 1e3:.0f} ms "
              f"-> {ip['replay'] / ip['read_table']:.2f}x   (target <= 2.0x); reader alone "
              f"{ip['reader'] / ip['read_table']:.2f}x, {ip['rows'] / ip['reader'] / 1e6:.1f}M rows/s")
        print(f"peak RSS, zdte replay of the SPY day: {rss_replay} MB   (target <= 250 MB; "
              f"the pyarrow read_table process: {rss_read} MB)")

        if not args.no_four:
            four = Path(tmp) / "four.parquet"
            half = Path(tmp) / "half.parquet"
            simulate(four, FOUR, args.date, args.seed)
            child(["-c", HALF_DAY, str(four), str(half), "12:45"])
            rows_full, rows_half = pq.read_metadata(four).num_rows, pq.read_metadata(half).num_rows
            cpu_full, _, rss_full = child(zdte("replay", str(four), "--headless"))
            cpu_half, _, rss_half = child(zdte("replay", str(half), "--headless"))
            read_full, _, _ = child(["-c", READ_ONLY, str(four)])
            print(f"peak RSS, zdte replay of {FOUR}: whole day ({rows_full:,} rows) {rss_full} MB, first half "
                  f"to 12:45 ({rows_half:,} rows) {rss_half} MB   (target <= 300 MB, flat in the day's length)")
            print(f"process CPU, {FOUR}: replay {cpu_full:.2f} s (half day {cpu_half:.2f} s), pyarrow read_table "
                  f"process {read_full:.2f} s -> {cpu_full / read_full:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
