"""Save SVG screenshots of the main, watch, replay and no-0DTE screens to docs/screenshots/.

Run: ``python benchmarks/screenshots.py`` (deterministic: the seed-7 fake service at 14:45 ET).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.ui.fake_service import FakeFlowService  # noqa: E402
from zdte_tui.ui.app import ZdteApp  # noqa: E402

OUT = ROOT / "docs" / "screenshots"
SHOTS = [
    ("main-200x60.svg", dict(symbols=["SPY", "QQQ", "IWM", "SPX"]), {}, (200, 60), ()),
    ("main-120x35.svg", dict(symbols=["SPY"]), {}, (120, 35), ()),
    ("watch-200x60.svg", dict(symbols=["SPY", "QQQ", "IWM", "SPX"], mode="watch"), {}, (200, 60), ()),
    ("replay-160x48.svg", dict(symbols=["SPY"], mode="replay"), dict(source="replay"), (160, 48),
     ("space", "full_stop", "plus")),
    ("no-0dte-120x35.svg", dict(symbols=["AAPL"]), {}, (120, 35), ()),
    ("help-120x35.svg", dict(symbols=["SPY"]), {}, (120, 35), ("question_mark",)),
]


async def shoot(name, app_kwargs, service_kwargs, size, keys) -> Path:
    app = ZdteApp(FakeFlowService(**service_kwargs), truecolor="always", **app_kwargs)
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
    OUT.mkdir(parents=True, exist_ok=True)
    for shot in SHOTS:
        print("wrote", asyncio.run(shoot(*shot)).relative_to(ROOT))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
