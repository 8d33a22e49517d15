"""Launch to a populated screen, end to end: `zdte SPY` (a new process, the embedded simulator,
default settings) in a 160x48 pseudo-terminal, timed until the header shows the regime and the
signals tape shows scored prints; then `q`.

    python benchmarks/bench_launch_pty.py [--repeat 5] [--symbol SPY] [--compare OTHER_CHECKOUT]
                                          [--bytecode cached|none|as-is]

Reports the wall time and the process's CPU time (user + sys of all its threads, from
/proc/PID/stat when the screen is populated): on a shared machine the CPU figure is the one to
compare. Target (issue 17): <= 1 s. The first run on a new machine also builds the calendar cache
(~1 s once).

``--bytecode``: ``cached`` (default) runs with compiled bytecode, as after ``pip install`` (which compiles
it) or any earlier run: bytecode goes to a private cache directory (PYTHONPYCACHEPREFIX) filled by one
launch per checkout before the timed ones; ``none`` compiles every module from source on every launch
(PYTHONDONTWRITEBYTECODE and an empty cache prefix); ``as-is`` keeps the caller's environment.
``--compare DIR`` times a second checkout (e.g. the old main) in the same run, launches alternating.
``--fresh-cache`` gives every timed launch an empty ``XDG_CACHE_HOME``, as on a new machine: the calendar
table is built from exchange_calendars (pandas) before the first screen; without it the table is cached.
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
import tempfile
import termios
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

NEEDLES = (b"SIMULATED", b"GAMMA", b"sweep", b"Leaderboard")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a running process and its threads so far (Linux /proc)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def open_terminal(columns: int = 160, rows: int = 48) -> tuple[int, int]:
    """A pseudo-terminal ``(master, slave)`` of ``columns`` x ``rows`` cells."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    return master, slave


def wait_for_screen(master: int, t0: float, timeout: float = 60.0) -> bool:
    """Read the terminal's output until every one of :data:`NEEDLES` has appeared (a populated
    screen: True) or ``timeout`` seconds after ``t0`` (``time.perf_counter``) or the pty closes (False)."""
    buf = b""
    while time.perf_counter() - t0 < timeout:
        r, _, _ = select.select([master], [], [], 0.05)
        if r:
            try:
                buf += os.read(master, 65536)
            except OSError:
                return False
            if all(n in buf for n in NEEDLES):
                return True
    return False


def launch_once(symbol: str, checkout: Path = ROOT,
                extra_env: dict[str, str | None] | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds) from the launch to a populated screen; NaN if it never came."""
    master, slave = open_terminal()
    merged = dict(os.environ, TERM="xterm-256color", COLORTERM="truecolor", PYTHONPATH=str(checkout),
                  **(extra_env or {}))
    env = {k: v for k, v in merged.items() if v is not None}
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "zdte_tui.cli", symbol], stdin=slave, stdout=slave,
                            stderr=slave, env=env, close_fds=True, start_new_session=True, cwd=str(checkout))
    os.close(slave)
    elapsed, cpu = float("nan"), float("nan")
    try:
        if wait_for_screen(master, t0):
            elapsed = time.perf_counter() - t0
            cpu = cpu_seconds(proc.pid)
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


def bytecode_env(mode: str, cache_dir: str) -> dict[str, str | None]:
    """Environment overrides for ``--bytecode`` (None: unset the variable)."""
    if mode == "cached":
        return {"PYTHONDONTWRITEBYTECODE": None, "PYTHONPYCACHEPREFIX": cache_dir}
    if mode == "none":  # installed packages keep the bytecode pip compiled; zdte's own modules have none
        return {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": None}
    return {}


def report(label: str, runs: list[tuple[float, float]]) -> None:
    print(f"{label}: launch -> populated screen, wall (s): " + ", ".join(f"{w:.2f}" for w, _ in runs)
          + "; CPU (s): " + ", ".join(f"{c:.2f}" for _, c in runs))
    wall = [w for w, _ in runs if w == w]
    cpu = [c for _, c in runs if c == c]
    if wall:
        print(f"  wall: min {min(wall):.2f} s   median {statistics.median(wall):.2f} s   max {max(wall):.2f} s   "
              "(target <= 1 s)")
    if cpu:
        print(f"  CPU:  min {min(cpu):.2f} s   median {statistics.median(cpu):.2f} s   max {max(cpu):.2f} s")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--symbol", default="SPY")
    ap.add_argument("--compare", type=Path, default=None, help="another checkout to time in the same run")
    ap.add_argument("--bytecode", choices=("cached", "none", "as-is"), default="cached")
    ap.add_argument("--fresh-cache", action="store_true", help="an empty XDG_CACHE_HOME for every timed launch")
    args = ap.parse_args()
    checkouts = [ROOT] + ([args.compare.resolve()] if args.compare else [])
    with tempfile.TemporaryDirectory(prefix="zdte-bench-pyc-") as tmp:
        envs = {c: bytecode_env(args.bytecode, str(Path(tmp) / str(i))) for i, c in enumerate(checkouts)}
        if args.bytecode == "cached":
            for c in checkouts:  # fill the bytecode cache (and the calendar cache): not timed
                warm = dict(envs[c])
                if args.fresh_cache:  # so that the calendar build's modules (pandas) are compiled too
                    warm["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="warm-", dir=tmp)
                launch_once(args.symbol, c, warm)
        runs: dict[Path, list[tuple[float, float]]] = {c: [] for c in checkouts}
        for i in range(args.repeat):
            for c in checkouts:
                env = dict(envs[c])
                if args.fresh_cache:
                    env["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix=f"cache{i}-", dir=tmp)
                runs[c].append(launch_once(args.symbol, c, env))
    print(f"bytecode: {args.bytecode}; XDG cache: {'empty for every launch' if args.fresh_cache else 'as is'}")
    for c in checkouts:
        report(f"zdte {args.symbol} [{c}]", runs[c])
    return 0


if __name__ == "__main__":
    sys.exit(main())
