"""Launch-to-first-full-frame: how long from ``ZdteApp(...)`` until the first refresh has been
painted (every pane filled), headless, for the monitor, watch and replay screens.

Run: ``python benchmarks/bench_launch.py`` (fake service, deterministic data) or
``python benchmarks/bench_launch.py --real`` (the embedded FlowService on the simulator; the
service's own start-up is reported separately).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from zdte_tui.ui.app import ZdteApp  # noqa: E402


async def first_frame_seconds(make_service, *, symbols, mode, size) -> float:
    service = make_service()
    start = time.perf_counter()
    app = ZdteApp(service, symbols=symbols, mode=mode, truecolor="always")
    async with app.run_test(size=size) as pilot:
        while app.refresh_count == 0:  # wait for the first Refreshed message to be handled
            await pilot.pause()
            await app.workers.wait_for_complete()
        await pilot.pause()  # ...and painted
        elapsed = time.perf_counter() - start
    stop = getattr(service, "stop", None)
    if stop:
        try:
            stop()
        except RuntimeError as exc:  # FlowService.stop() can race its own loop shutdown (reported)
            print(f"    (service stop: {exc})")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--real", action="store_true", help="use zdte_tui.service.FlowService on the simulator")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if args.real:
        from zdte_tui.service import FlowService

        def make_service(symbols=("SPY",)):
            t = time.perf_counter()
            svc = FlowService.from_sim(list(symbols), seed=7, at="10:30", speed=1.0)
            svc.start()
            svc.wait_ready()
            print(f"    (service start-up {1000 * (time.perf_counter() - t):.0f} ms, not counted)")
            return svc
        label = "FlowService(sim)"
    else:
        from tests.ui.fake_service import FakeFlowService

        def make_service(symbols=("SPY",)):
            return FakeFlowService()
        label = "FakeFlowService"
    cases = [("monitor SPY 120x35", ["SPY"], "monitor", (120, 35)),
             ("monitor SPY 200x60", ["SPY"], "monitor", (200, 60)),
             ("watch 4 symbols 200x60", ["SPY", "QQQ", "IWM", "SPX"], "watch", (200, 60)),
             ("replay SPY 120x35", ["SPY"], "replay", (120, 35))]
    if args.real:
        cases = [c for c in cases if c[2] != "watch"] + [("watch SPY,QQQ 200x60", ["SPY", "QQQ"], "watch", (200, 60))]
    print(f"launch -> first full frame on {label} (median of {args.repeat})")
    for name, symbols, mode, size in cases:
        samples = [asyncio.run(first_frame_seconds(lambda s=symbols: make_service(s), symbols=symbols, mode=mode,
                                                   size=size)) for _ in range(args.repeat)]
        print(f"  {name:<26} median {1000 * statistics.median(samples):7.1f} ms   max {1000 * max(samples):7.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
