"""Save SVG screenshots of the main, watch, replay, no-0DTE and help screens to docs/screenshots/.

Run: ``python benchmarks/screenshots.py``. Every screen shows the real embedded engine on the
simulator (SIMULATED, seed 7, the 2026-11-20 session paused at 14:45 ET), or a recording of that
simulated day for the replay screen: what a trader sees, not fixture data.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from zdte_tui.service import FlowService  # noqa: E402
from zdte_tui.sources.replay import ReplaySource  # noqa: E402
from zdte_tui.sources.sim import SimSource  # noqa: E402
from zdte_tui.ui.app import ZdteApp  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
DAY = dt.date(2026, 11, 20)
AT = "14:45"
SYMBOLS = ["SPY", "QQQ", "IWM", "SPX"]


def sim_service(symbols) -> FlowService:
    svc = FlowService(SimSource(symbols, session_date=DAY, seed=7, at=AT, speed=1.0, linger=True)).start()
    svc.wait_ready(120)
    svc.control("pause")
    return svc


def replay_service(path: Path) -> FlowService:
    svc = FlowService(ReplaySource(path, at=AT, speed=1.0, hold_at_end=True)).start()
    svc.wait_ready(120)
    svc.control("pause")
    return svc


async def shoot(name: str, svc, app_kwargs, size, keys=()) -> Path:
    app = ZdteApp(svc, truecolor="always", **app_kwargs)
    async with app.run_test(size=size) as pilot:
        for batch in ((), keys):
            if batch:
                await pilot.press(*batch)
            for _ in range(3):
                await pilot.pause()
                await app.workers.wait_for_complete()
            await pilot.pause()
        path = OUT / name
        path.write_text(app.export_screenshot(title=f"zdte — {name.removesuffix('.svg')}"))
    return path


def main() -> int:
    from zdte_tui.commands import write_simulated_day

    OUT.mkdir(parents=True, exist_ok=True)
    svc = sim_service(SYMBOLS)
    shots = [
        ("main-200x60.svg", svc, dict(symbols=SYMBOLS), (200, 60)),
        ("main-120x35.svg", svc, dict(symbols=["SPY"]), (120, 35)),
        ("watch-200x60.svg", svc, dict(symbols=SYMBOLS, mode="watch"), (200, 60)),
        ("no-0dte-120x35.svg", svc, dict(symbols=["AAPL"]), (120, 35)),
        ("help-120x35.svg", svc, dict(symbols=["SPY"]), (120, 35), ("question_mark",)),
    ]
    for name, service, kwargs, size, *keys in shots:
        print("wrote", asyncio.run(shoot(name, service, kwargs, size, *(keys or [()]))).relative_to(ROOT))
    svc.stop()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "spy-2026-11-20.parquet"
        write_simulated_day(path, ["SPY"], session_date=DAY, seed=7)
        rsvc = replay_service(path)
        print("wrote", asyncio.run(shoot("replay-160x48.svg", rsvc, dict(symbols=["SPY"], mode="replay"),
                                         (160, 48))).relative_to(ROOT))
        rsvc.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
