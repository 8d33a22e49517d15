"""Launch to a populated screen, end to end: `zdte SPY` (a new process, the embedded simulator,
default settings) in a 160x48 pseudo-terminal, timed until the header shows the regime and the
signals tape shows scored prints; then `q`.

    python benchmarks/bench_launch_pty.py [--repeat 5] [--symbol SPY]

Reports the wall time and the process's CPU time (user + sys of all its threads, from
/proc/PID/stat when the screen is populated): on a shared machine the CPU figure is the one to
compare. Target (issue 17): <= 1 s. The first run on a new machine also builds the calendar cache
(~1 s once).
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a running process and its threads so far (Linux /proc)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def launch_once(symbol: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds) from the launch to a populated screen; NaN if it never came."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 48, 160, 0, 0))
    env = dict(os.environ, TERM="xterm-256color", COLORTERM="truecolor")
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "zdte_tui.cli", symbol], stdin=slave, stdout=slave,
                            stderr=slave, env=env, close_fds=True, start_new_session=True)
    os.close(slave)
    buf, elapsed, cpu = b"", float("nan"), float("nan")
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
                    cpu = cpu_seconds(proc.pid)
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
    return elapsed, cpu


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--symbol", default="SPY")
    args = ap.parse_args()
    runs = [launch_once(args.symbol) for _ in range(args.repeat)]
    print(f"zdte {args.symbol}: launch -> populated screen, wall (s): " + ", ".join(f"{w:.2f}" for w, _ in runs)
          + "; CPU (s): " + ", ".join(f"{c:.2f}" for _, c in runs))
    wall = [w for w, _ in runs if w == w]
    cpu = [c for _, c in runs if c == c]
    if wall:
        print(f"wall: min {min(wall):.2f} s   median {statistics.median(wall):.2f} s   max {max(wall):.2f} s   "
              "(target <= 1 s)")
    if cpu:
        print(f"CPU:  min {min(cpu):.2f} s   median {statistics.median(cpu):.2f} s   max {max(cpu):.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
