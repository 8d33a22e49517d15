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

from .fake_service import FakeFlowService
from .helpers import settle

pytestmark = pytest.mark.skipif(
    sys.version_info[:2] != (3, 11) or textual.__version__ != "8.2.8",
    reason="snapshots are pinned to Python 3.11 + Textual 8.2.8",
)
SIZES = [pytest.param((120, 35), id="120x35"), pytest.param((200, 60), id="200x60")]


def build_app(kind: str) -> ZdteApp:
    """The four screens under test, all on the seed-7 fake at 14:45 ET."""
    if kind == "main":
        return ZdteApp(FakeFlowService(), symbols=["SPY", "QQQ", "IWM", "SPX"], truecolor="always")
    if kind == "watch":
        return ZdteApp(FakeFlowService(), symbols=["SPY", "QQQ", "IWM", "SPX"], mode="watch", truecolor="always")
    if kind == "replay":
        return ZdteApp(FakeFlowService(source="replay"), symbols=["SPY"], mode="replay", truecolor="always")
    if kind == "no_0dte":
        return ZdteApp(FakeFlowService(), symbols=["AAPL"], truecolor="always")
    raise ValueError(kind)


async def _settled(pilot) -> None:
    await settle(pilot)


async def _replay_paused_after_steps(pilot) -> None:
    await settle(pilot)
    await pilot.press("space", "full_stop", "plus")
    await settle(pilot)


@pytest.mark.parametrize("size", SIZES)
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
