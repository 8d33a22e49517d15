"""Peak RSS of a headless replay as the day goes on: is replay memory flat in the day's length?

    python benchmarks/bench_replay_memory.py FILE [FILE ...] [--stops 10:00,12:00] [--compare CHECKOUT]

Each recording is replayed in a child process exactly as ``zdte replay FILE --headless`` does it
(``ReplaySource(seekable=False)``, ``FlowService``, the product's settings), and the child reports its
peak RSS (VmHWM) and RSS (VmRSS) when the engine clock first reaches each ET stop and at the close, with
the trade logs' rows and allocated bytes. ``--compare DIR`` runs the same child on another checkout of
zdte (e.g. main) right after, so before and after are measured in the same run on the same machine.
Peak RSS is a high-water mark: "at 10:00" is the peak of the replay played up to 10:00.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent("""
    import json, sys
    from zdte_tui.config import load_config
    from zdte_tui.market.calendar import et_clock_to_ns
    from zdte_tui.service import FlowService
    from zdte_tui.sources.replay import ReplaySource

    path, stops = sys.argv[1], [s for s in sys.argv[2].split(",") if s]

    def status():
        with open("/proc/self/status") as f:
            d = {line.split(":")[0]: int(line.split()[1]) for line in f if line.startswith(("VmHWM", "VmRSS"))}
        return round(d["VmHWM"] / 1024), round(d["VmRSS"] / 1024)

    def log_bytes(engine):
        rows = sum(b.log.n for b in engine.books.values())
        cap = sum(sum(a.nbytes for a in b.log.cols.values()) for b in engine.books.values())
        return rows, cap

    source = ReplaySource(path, at=None, speed=None, seekable=False)
    svc = FlowService(source, settings=load_config(None))
    day = source.session_date
    pending = [(et_clock_to_ns(day, s), s) for s in stops]
    out = []
    apply = svc.apply

    def measured_apply(event):
        apply(event)
        while pending and svc.engine.clock_ns >= pending[0][0]:
            hwm, rss = status()
            rows, cap = log_bytes(svc.engine)
            out.append({"at": pending.pop(0)[1], "peak_mb": hwm, "rss_mb": rss, "log_rows": rows, "log_bytes": cap})

    svc.apply = measured_apply
    svc.run_to_end()
    svc.snapshot(source.symbols[0])
    hwm, rss = status()
    rows, cap = log_bytes(svc.engine)
    prints = sum(getattr(b.log, "appended", b.log.n) for b in svc.engine.books.values())
    out.append({"at": "close", "peak_mb": hwm, "rss_mb": rss, "log_rows": rows, "log_bytes": cap, "prints": prints})
    print(json.dumps(out))
""")


def run(checkout: Path, path: str, stops: str) -> list[dict]:
    env = dict(os.environ, PYTHONPATH=str(checkout))
    proc = subprocess.run([sys.executable, "-c", CHILD, path, stops], env=env, capture_output=True, text=True,
                          cwd=str(checkout), check=False)
    if proc.returncode != 0:
        raise SystemExit(f"replay of {path} with {checkout} failed:\n{proc.stderr[-2000:]}")
    return list(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--stops", default="10:00,12:00", help="ET times to report at, besides the close")
    ap.add_argument("--compare", default=None, help="another zdte checkout to measure in the same run")
    args = ap.parse_args()
    checkouts = [("this", ROOT)] + ([("compare", Path(args.compare).resolve())] if args.compare else [])
    print(f"python benchmarks/bench_replay_memory.py {' '.join(sys.argv[1:])}\n")
    print("| recording | code | at | peak RSS MB | RSS MB | trade-log rows | trade-log MB allocated |")
    print("|---|---|---|---|---|---|---|")
    for path in args.files:
        for name, checkout in checkouts:
            for row in run(checkout, path, args.stops):
                print(f"| {Path(path).name} | {name} | {row['at']} | {row['peak_mb']} | {row['rss_mb']} | "
                      f"{row['log_rows']:,} | {row['log_bytes'] / 1e6:.1f} |")
            if "prints" in row:
                print(f"| {Path(path).name} | {name} | prints ingested | | | {row['prints']:,} | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
