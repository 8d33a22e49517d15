"""The UI's own parts of the launch, main-thread CPU: `zdte SPY` in a 160x48 pseudo-terminal (as
`bench_launch_pty.py`), with a few functions wrapped to add up their thread CPU time until the screen is
populated (then the process writes the sums and exits).

    python benchmarks/bench_launch_ui_parts.py [--repeat 5] [--compare OTHER_CHECKOUT]

Parts: Textual's restyles on class changes (`App.update_styles`, count and ms), every stylesheet
application (`Stylesheet.apply`, nested calls included once), the hedge-flow chart
(`LineChart.lines`) and the signals tape's lines (`SignalsTape.render_line`). Medians over the
launches; the end-to-end figure is `bench_launch_pty.py`'s. The wrappers add a little overhead of
their own, the same for both checkouts.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_launch_pty import ROOT, open_terminal, wait_for_screen  # noqa: E402

WRAPPER = '''
import json, os, runpy, signal, sys, time
from collections import defaultdict
acc, cnt, depth = defaultdict(float), defaultdict(int), defaultdict(int)
def wrap(cls, name, key):
    orig = getattr(cls, name)
    def timed(*a, **k):
        depth[key] += 1
        t = time.thread_time()
        try:
            return orig(*a, **k)
        finally:
            depth[key] -= 1
            if depth[key] == 0:  # nested calls are inside the outer one's time
                acc[key] += time.thread_time() - t
            cnt[key] += 1
    setattr(cls, name, timed)
from textual.app import App
from textual.css.stylesheet import Stylesheet
wrap(App, "update_styles", "App.update_styles")
wrap(Stylesheet, "apply", "Stylesheet.apply")
from zdte_tui.ui.renderables.chart import LineChart
from zdte_tui.ui.widgets.signals import SignalsTape
wrap(LineChart, "lines", "LineChart.lines")
wrap(SignalsTape, "render_line", "SignalsTape.render_line")
def dump(*_):
    with open(os.environ["ZDTE_PARTS_OUT"], "w") as f:
        json.dump({"main thread": [time.thread_time() * 1e3, 1], **{k: [acc[k] * 1e3, cnt[k]] for k in acc}}, f)
    os._exit(0)
signal.signal(signal.SIGUSR1, dump)
sys.argv = ["zdte", *sys.argv[1:]]
runpy.run_module("zdte_tui.cli", run_name="__main__")
'''


def launch_parts(checkout: Path, wrapper: Path, out: Path, symbol: str) -> dict[str, list[float]] | None:
    master, slave = open_terminal()
    env = dict(os.environ, TERM="xterm-256color", COLORTERM="truecolor", PYTHONPATH=str(checkout),
               ZDTE_PARTS_OUT=str(out))
    out.unlink(missing_ok=True)
    proc = subprocess.Popen([sys.executable, str(wrapper), symbol], stdin=slave, stdout=slave, stderr=slave,
                            env=env, close_fds=True, start_new_session=True, cwd=str(checkout))
    os.close(slave)
    try:
        if wait_for_screen(master, time.perf_counter()):
            proc.send_signal(signal.SIGUSR1)
        proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return json.loads(out.read_text()) if out.exists() else None


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--symbol", default="SPY")
    ap.add_argument("--compare", type=Path, default=None, help="another checkout measured in the same run")
    args = ap.parse_args()
    checkouts = [ROOT] + ([args.compare.resolve()] if args.compare else [])
    with tempfile.TemporaryDirectory(prefix="zdte-bench-parts-") as tmp:
        wrapper, out = Path(tmp) / "wrapper.py", Path(tmp) / "parts.json"
        wrapper.write_text(WRAPPER)
        runs: dict[Path, list[dict[str, list[float]]]] = {c: [] for c in checkouts}
        for c in checkouts:  # compile the bytecode and fill the caches: not counted
            launch_parts(c, wrapper, out, args.symbol)
        for _ in range(args.repeat):
            for c in checkouts:
                parts = launch_parts(c, wrapper, out, args.symbol)
                if parts is not None:
                    runs[c].append(parts)
    for c in checkouts:
        print(f"[{c}] medians of {len(runs[c])} launches, main-thread CPU ms (calls):")
        for key in sorted({k for parts in runs[c] for k in parts}):
            ms = statistics.median(p[key][0] for p in runs[c] if key in p)
            calls = statistics.median(p[key][1] for p in runs[c] if key in p)
            print(f"  {key:26s} {ms:8.1f} ms  ({calls:.0f} calls)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
