"""SVG snapshots of each screen on the fake service at fixed sizes (pytest-textual-snapshot).

Regenerate with ``pytest tests/ui/test_snapshots.py --snapshot-update`` and review the SVGs.
Snapshots are generated on Python 3.11 with Textual 8.2.8; other versions are skipped because
font metrics / emoji widths can differ.
"""

from __future__ import annotations

import sys

import pytest
import textual

from zdte_tui.ui.app import ZdteApp

from .conftest import frozen_monotonic
from .fake_service import FakeFlowService
from .helpers import settle

pytestmark = pytest.mark.skipif(
    sys.version_info[:2] != (3, 11) or textual.__version__ != "8.2.8",
    reason="snapshots are pinned to Python 3.11 + Textual 8.2.8",
)
SIZES = [pytest.param((120, 35), id="120x35"), pytest.param((200, 60), id="200x60")]
# the monitor at every size a trader uses: the key-levels bar and the heatmap legend must show
ALL_SIZES = [pytest.param((80, 24), id="80x24"), *SIZES[:1], pytest.param((160, 48), id="160x48"), *SIZES[1:]]


def build_app(kind: str) -> ZdteApp:
    """The four screens under test, all on the seed-7 fake at 14:45 ET."""
    if kind == "main":
        return ZdteApp(
            monotonic=frozen_monotonic,
            service=FakeFlowService(),
            symbols=["SPY", "QQQ", "IWM", "SPX"],
            truecolor="always",
        )
    if kind == "watch":
        return ZdteApp(
            monotonic=frozen_monotonic,
            service=FakeFlowService(),
            symbols=["SPY", "QQQ", "IWM", "SPX"],
            mode="watch",
            truecolor="always",
        )
    if kind == "replay":
        return ZdteApp(
            monotonic=frozen_monotonic,
            service=FakeFlowService(source="replay"),
            symbols=["SPY"],
            mode="replay",
            truecolor="always",
        )
    if kind == "no_0dte":
        return ZdteApp(monotonic=frozen_monotonic, service=FakeFlowService(), symbols=["AAPL"], truecolor="always")
    raise ValueError(kind)


async def _settled(pilot) -> None:
    await settle(pilot)


async def _replay_paused_after_steps(pilot) -> None:
    await settle(pilot)
    await pilot.press("space", "full_stop", "plus")
    await settle(pilot)


@pytest.mark.parametrize("size", ALL_SIZES)
def test_main_screen(snap_compare, size):
    assert snap_compare(build_app("main"), terminal_size=size, run_before=_settled)


@pytest.mark.parametrize("size", SIZES)
def test_watch_screen(snap_compare, size):
    assert snap_compare(build_app("watch"), terminal_size=size, run_before=_settled)


@pytest.mark.parametrize("size", SIZES)
def test_replay_screen(snap_compare, size):
    assert snap_compare(build_app("replay"), terminal_size=size, run_before=_replay_paused_after_steps)


@pytest.mark.parametrize("size", SIZES)
def test_no_0dte_message(snap_compare, size):
    assert snap_compare(build_app("no_0dte"), terminal_size=size, run_before=_settled)


def test_main_screen_256_colors(snap_compare):
    app = ZdteApp(
        monotonic=frozen_monotonic, service=FakeFlowService(), symbols=["SPY", "QQQ", "IWM", "SPX"], truecolor="never"
    )
    assert snap_compare(app, terminal_size=(120, 35), run_before=_settled)


def test_main_screen_light_theme(snap_compare):
    app = ZdteApp(
        monotonic=frozen_monotonic,
        service=FakeFlowService(),
        symbols=["SPY", "QQQ", "IWM", "SPX"],
        truecolor="always",
        theme="textual-light",
    )
    assert snap_compare(app, terminal_size=(120, 35), run_before=_settled)
