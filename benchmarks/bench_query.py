"""One-shot CLI query benchmark: CPU seconds (user + sys of the child process) of ``zdte snapshot|signals
SYMBOL --at T`` on the simulator and on a recording of the same day, through the day cache
(service/daycache.py, service/simday.py):

1. ``--no-cache``: the source plays the morning up to T (what every query does without the cache),
2. first query of the day (cold cache): the same, plus the simulated day stored and the state at T cached,
3. warm cache, same T: the engine state at T is read back (no simulation, no ingestion),
4. a new T2 on a day already seen: resumes from the newest cached state on the :00/:30 grid at or
   before T2 and reads only the events after it (from the stored simulated day or the recording).

    python benchmarks/bench_query.py [--symbol SPY] [--date 2026-11-20] [--at 12:00] [--then 13:00]
                                     [--off 14:47] [--repeat 3] [--compare /tmp/old-checkout] [--no-bytecode]

Each row runs ``--repeat`` times, each time on a fresh ``XDG_CACHE_HOME`` prepared by the rows before it,
and shows the minimum and the median. ``--compare DIR`` runs every row on the checkout in DIR too,
interleaved, so both columns share the machine's load. Python bytecode is cached in a temporary
``PYTHONPYCACHEPREFIX`` (as an installed package has it; a first, unmeasured run compiles);
``--no-bytecode`` measures with ``PYTHONDONTWRITEBYTECODE=1`` instead (every module compiled at each
run, ~0.3 s more).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


NEUTRAL = Path(tempfile.gettempdir())
"""The children's working directory: ``python -m``/``-c`` put it first on sys.path, so a checkout there
would shadow PYTHONPATH (the code measured must be the one PYTHONPATH names)."""


def run(argv: list[str], env: dict[str, str]) -> None:
    subprocess.run([sys.executable, *argv], env=env, check=True, capture_output=True, cwd=NEUTRAL)


def cpu_of(argv: list[str], env: dict[str, str]) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([sys.executable, *argv], env=env, capture_output=True, text=True, cwd=NEUTRAL)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"python {' '.join(argv)} failed: {done.stderr.strip()[-2000:]}")
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--symbol", default="SPY")
    ap.add_argument("--date", default="2026-11-20")
    ap.add_argument("--at", default="12:00")
    ap.add_argument("--then", default="13:00", help="a new --at on the :00/:30 grid")
    ap.add_argument("--off", default="14:47", help="a new --at off the grid")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--compare", type=Path, default=None, help="another checkout to measure in the same run")
    ap.add_argument("--no-bytecode", action="store_true")
    args = ap.parse_args()
    roots = [("this", ROOT)] + ([("compare", args.compare.resolve())] if args.compare else [])
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        base_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        if args.no_bytecode:
            base_env["PYTHONDONTWRITEBYTECODE"] = "1"
        day = ["--date", args.date]
        recording = tmp_path / "day.parquet"
        sym = args.symbol

        def q(cmd: str, at: str, *extra: str, source: str | None = None) -> list[str]:
            src = ["--source", f"replay:{recording}"] if source else []
            return ["-m", "zdte_tui.cli", cmd, sym, "--at", at, *([] if source else day), *src, *extra]

        # (label, argv, the queries that prepare the cache before it, or None: a fresh cache)
        rows: list[tuple[str, list[str] | None, list[list[str]]]] = []
        for source, name in ((None, "sim"), ("replay", "recording")):
            rows += [
                (f"{name}: snapshot --at {args.at}, --no-cache",
                 q("snapshot", args.at, "--no-cache", source=source), []),
                (f"{name}: snapshot --at {args.at}, first query of the day", q("snapshot", args.at, source=source), []),
                (f"{name}: snapshot --at {args.at}, repeated", q("snapshot", args.at, source=source),
                 [q("snapshot", args.at, source=source)]),
                (f"{name}: signals --at {args.at}, repeated", q("signals", args.at, source=source),
                 [q("snapshot", args.at, source=source)]),
                (f"{name}: signals --at {args.then}, --no-cache",
                 q("signals", args.then, "--no-cache", source=source), []),
                (f"{name}: signals --at {args.then}, new --at on a seen day", q("signals", args.then, source=source),
                 [q("snapshot", args.at, source=source)]),
                (f"{name}: signals --at {args.off}, new --at on a seen day", q("signals", args.off, source=source),
                 [q("snapshot", args.at, source=source), q("signals", args.then, source=source)]),
            ]
        rows.append(("python -c 'import zdte_tui.service.queries' (import floor)",
                     ["-c", "import zdte_tui.service.queries"], []))

        envs = {}
        for label, root in roots:
            env = {**base_env, "PYTHONPATH": str(root), "XDG_CACHE_HOME": str(tmp_path / label / "xdg")}
            if not args.no_bytecode:
                env["PYTHONPYCACHEPREFIX"] = str(tmp_path / label / "pyc")
            # the exchange calendar is cached under XDG_CACHE_HOME too, and the first run compiles the
            # bytecode: both outside the figures
            run(["-m", "zdte_tui.cli", "snapshot", sym, "--at", args.at, *day, "--no-cache"], env)
            envs[label] = env
            where = subprocess.run([sys.executable, "-c", "import zdte_tui; print(zdte_tui.__file__)"], env=env,
                                   cwd=NEUTRAL, check=True, capture_output=True, text=True).stdout.strip()
            print(f"{label}: {where}")
        run(["-m", "zdte_tui.cli", "simulate", "--symbols", sym, *day, "--out", str(recording)], envs["this"])

        head = "  ".join(f"{label + ' min/median':>16}" for label, _ in roots)
        print(f"zdte {sym} --date {args.date}: CPU seconds of the process, {args.repeat} runs "
              f"({'no bytecode cache' if args.no_bytecode else 'bytecode cached'})")
        print(f"  {'':<66} {head}")
        for label, argv, prepare in rows:
            cells = []
            samples: dict[str, list[float]] = {name: [] for name, _ in roots}
            for _ in range(args.repeat):
                for name, _root in roots:
                    env = envs[name]
                    xdg = Path(env["XDG_CACHE_HOME"])
                    shutil.rmtree(xdg / "zdte" / "days", ignore_errors=True)  # keeps the calendar cache
                    for step in prepare:
                        run(step, env)
                    samples[name].append(cpu_of(argv, env))
            for name, _ in roots:
                s = samples[name]
                cells.append(f"{min(s):7.2f} /{statistics.median(s):5.2f} s")
            print(f"  {label:<66} {'  '.join(f'{c:>16}' for c in cells)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
