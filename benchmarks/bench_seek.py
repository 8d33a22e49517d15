"""Backward-seek benchmark: replay a simulated day to 15:30, seek back to 15:20, and measure the CPU
the service spends getting there, with the engine checkpoints (resume from 15:00) and without
(the pre-checkpoint behaviour: start over from the open). Same process, same recording, so the
two figures compare even on a loaded machine (CPU time, not wall time).

    python benchmarks/bench_seek.py [--symbols SPY,QQQ,IWM,SPX] [--at 15:30] [--to 15:20]

Also prints the CPU the checkpoints add to the initial ingest and the memory they hold.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _held_bytes(service) -> int:
    """Bytes of the numpy arrays the checkpoints hold (trade logs are shared, not counted)."""
    import numpy as np

    seen: set[int] = set()

    def walk(obj) -> int:
        if id(obj) in seen:
            return 0
        seen.add(id(obj))
        if isinstance(obj, np.ndarray):
            return obj.nbytes if obj.base is None else 0
        if isinstance(obj, dict):
            return sum(walk(v) for v in obj.values())
        if isinstance(obj, (list, tuple)):
            return sum(walk(v) for v in obj)
        if hasattr(obj, "__dict__"):
            return sum(walk(v) for k, v in vars(obj).items() if k != "log")
        return 0

    return sum(walk(engine) for engine, _lengths in service.checkpoints._held.values())


def run(path: Path, at: str, to: str, *, checkpoints: bool) -> dict[str, float]:
    from zdte_tui.market.calendar import et_clock_to_ns
    from zdte_tui.market.events import SessionReset
    from zdte_tui.service import FlowService
    from zdte_tui.sources.replay import ReplaySource

    source = ReplaySource(path, at=at, speed=1.0, hold_at_end=True)
    source.clock.pause()
    service = FlowService(source)
    if not checkpoints:
        source.resume_points = None  # the behaviour before checkpoints: a backward seek starts over
    day = source.session_date
    at_ns, to_ns = et_clock_to_ns(day, at), et_clock_to_ns(day, to)
    source.clock.seek(at_ns)
    stream = source.events()

    async def until(done) -> None:
        while not done():
            service.apply(await stream.__anext__())

    seen_reset = []
    original_apply = service.apply

    def apply(event) -> None:
        if isinstance(event, SessionReset):
            seen_reset.append(event)
        original_apply(event)

    service.apply = apply  # type: ignore[method-assign]
    marks: list[float] = []

    async def play() -> None:  # one event loop: asyncio.run closes the stream when it returns
        marks.append(time.process_time())
        await until(lambda: service.engine.clock_ns >= at_ns)
        marks.append(time.process_time())
        source.clock.seek(to_ns)
        await until(lambda: bool(seen_reset) and service.engine.clock_ns >= to_ns)
        marks.append(time.process_time())

    asyncio.run(play())
    t0, t1, t2 = marks
    service.snapshot(service.source.symbols[0])
    return {"ingest_cpu": t1 - t0, "seek_cpu": t2 - t1, "checkpoints": len(service.checkpoints.times),
            "held_mb": _held_bytes(service) / 1e6, "restores": service.seek_restores}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--symbols", default="SPY,QQQ,IWM,SPX")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--date", default="2026-11-20")
    ap.add_argument("--at", default="15:30")
    ap.add_argument("--to", default="15:20")
    args = ap.parse_args()

    import datetime as dt

    from zdte_tui.commands import write_simulated_day

    symbols = [s.strip().upper() for s in args.symbols.split(",") if s.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "day.parquet"
        write_simulated_day(path, symbols, session_date=dt.date.fromisoformat(args.date), seed=args.seed)
        without = run(path, args.at, args.to, checkpoints=False)
        with_cp = run(path, args.at, args.to, checkpoints=True)
    print(f"replay of {','.join(symbols)} to {args.at}, then seek back to {args.to} (CPU seconds, one process)")
    print(f"  without checkpoints: ingest {without['ingest_cpu']:.2f} s, seek {without['seek_cpu']:.2f} s "
          f"(re-ingests from the open)")
    print(f"  with checkpoints:    ingest {with_cp['ingest_cpu']:.2f} s, seek {with_cp['seek_cpu']:.2f} s "
          f"({with_cp['restores']} restore; {with_cp['checkpoints']} checkpoints kept, "
          f"{with_cp['held_mb']:.1f} MB of arrays besides the shared trade logs)")
    print(f"  seek speed-up: {without['seek_cpu'] / max(with_cp['seek_cpu'], 1e-9):.1f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
