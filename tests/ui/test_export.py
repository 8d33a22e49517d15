"""`e` exports and the screenshot key (issue 13 item 11 and the Export section): files land in a
directory that exists, and the app says where."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from zdte_tui.ui import export
from zdte_tui.ui.widgets.signals import SignalsTape

from .fake_service import FakeFlowService
from .helpers import settle


def test_output_dir_falls_back_from_a_missing_downloads_to_the_current_directory(tmp_path):
    home, cwd = tmp_path / "home", tmp_path / "cwd"
    home.mkdir()
    cwd.mkdir()
    assert export.output_dir(env={}, home=home, cwd=cwd) == cwd  # no ~/Downloads
    (home / "Downloads").mkdir()
    assert export.output_dir(env={}, home=home, cwd=cwd) == home / "Downloads"
    xdg = tmp_path / "xdg"
    xdg.mkdir()
    assert export.output_dir(env={"XDG_DOWNLOAD_DIR": str(xdg)}, home=home, cwd=cwd) == xdg
    assert export.output_dir(env={"ZDTE_EXPORT_DIR": str(tmp_path), "XDG_DOWNLOAD_DIR": str(xdg)},
                             home=home, cwd=cwd) == tmp_path
    assert export.output_dir(env={"XDG_DOWNLOAD_DIR": str(tmp_path / "gone")}, home=home, cwd=cwd) == home / "Downloads"


def test_heatmap_table_has_a_column_per_strike_and_a_row_per_bar(fake_service):
    payload = fake_service.heatmap("SPY", "gex", "raw", "1m", 10)
    header, rows = export.heatmap_table(payload)
    assert header[:2] == ["t", "spot"] and len(header) == 2 + len(payload["strikes_grid"])
    assert len(rows) == 10 and rows[-1][2:] == payload["bars"][-1]["values"]


def _notifications(app) -> str:
    return " ".join(n.message for n in app._notifications)


async def test_e_saves_the_focused_pane_as_csv_and_the_screen_as_svg(make_app, tmp_path, monkeypatch):
    monkeypatch.setenv("ZDTE_EXPORT_DIR", str(tmp_path))
    async with make_app(service=FakeFlowService()).run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        assert isinstance(pilot.app.focused, SignalsTape)
        await pilot.press("e")
        await pilot.pause()
        csvs, svgs = sorted(tmp_path.glob("*.csv")), sorted(tmp_path.glob("*.svg"))
        assert len(csvs) == 1 and "signals" in csvs[0].name and len(svgs) == 1
        rows = list(csv.reader(io.StringIO(csvs[0].read_text())))
        assert rows[0][0] == "ts" and len(rows) - 1 == len(pilot.app.focused.rows)
        assert str(csvs[0]) in _notifications(pilot.app)
        assert svgs[0].read_text().lstrip().startswith("<svg")


async def test_screenshot_without_downloads_goes_to_the_current_directory_and_says_so(make_app, tmp_path, monkeypatch):
    monkeypatch.delenv("ZDTE_EXPORT_DIR", raising=False)
    monkeypatch.delenv("XDG_DOWNLOAD_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "nohome"))
    monkeypatch.chdir(tmp_path)
    async with make_app(service=FakeFlowService()).run_test(size=(120, 35)) as pilot:
        await settle(pilot)
        saved = pilot.app.deliver_screenshot()
        await pilot.pause()
        assert saved is not None and Path(saved).parent == tmp_path and Path(saved).exists()
        assert saved in _notifications(pilot.app)
