"""Launch to a populated screen, end to end: `zdte SPY` (a new process, the embedded simulator,
default settings) in a 160x48 pseudo-terminal, timed until the header shows the regime and the
signals tape shows scored prints; then `q`.

    python benchmarks/bench_launch_pty.py [--repeat 5] [--symbol SPY]

Target: <= 2 s. The first run on a new machine also builds the calendar cache (~1 s once).
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import select
import statistics
import struct
import subprocess
import sys
import termios
import time

NEEDLES = (b"SIMULATED", b"GAMMA", b"sweep", b"Leaderboard")


def launch_once(symbol: str) -> float:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 48, 160, 0, 0))
    env = dict(os.environ, TERM="xterm-256color", COLORTERM="truecolor")
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "zdte_tui.cli", symbol], stdin=slave, stdout=slave,
                            stderr=slave, env=env, close_fds=True, start_new_session=True)
    os.close(slave)
    buf, elapsed = b"", float("nan")
    try:
        while time.perf_counter() - t0 < 60:
            r, _, _ = select.select([master], [], [], 0.05)
            if r:
                try:
                    buf += os.read(master, 65536)
                except OSError:
                    break
                if all(n in buf for n in NEEDLES):
                    elapsed = time.perf_counter() - t0
                    break
        os.write(master, b"q")
        end = time.perf_counter() + 20
        while proc.poll() is None and time.perf_counter() < end:
            r, _, _ = select.select([master], [], [], 0.1)
            if r:
                try:
                    os.read(master, 65536)
                except OSError:
                    break
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        os.close(master)
    return elapsed


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--symbol", default="SPY")
    args = ap.parse_args()
    times = [launch_once(args.symbol) for _ in range(args.repeat)]
    ok = [t for t in times if t == t]
    print(f"zdte {args.symbol}: launch -> populated screen (s): " + ", ".join(f"{t:.2f}" for t in times))
    if ok:
        print(f"min {min(ok):.2f} s   median {statistics.median(ok):.2f} s   max {max(ok):.2f} s   (target <= 2 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
