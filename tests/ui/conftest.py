"""Fixtures for the TUI tests: a deterministic fake service and an app factory."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from zdte_tui.ui.app import ZdteApp

from .fake_service import FakeFlowService


def frozen_monotonic() -> float:
    """A monotonic clock that never moves: the header shows exactly the service's time."""
    return 0.0


@pytest.fixture(autouse=True)
def _alert_log_in_tmp(tmp_path, monkeypatch):
    """Alerts are on by default and log to $XDG_STATE_HOME: keep that inside the test's tmp dir."""
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))


@pytest.fixture
def fake_service() -> FakeFlowService:
    return FakeFlowService()


@pytest.fixture
def make_app() -> Callable[..., ZdteApp]:
    """Build a ZdteApp on a FakeFlowService; keyword args split between the two."""

    def factory(symbols=("SPY",), mode="monitor", service: FakeFlowService | None = None, **options) -> ZdteApp:
        service = service or FakeFlowService()
        options.setdefault("monotonic", frozen_monotonic)  # the header clock never reads the wall clock in tests
        return ZdteApp(
            service, symbols=list(symbols), mode=mode, truecolor=options.pop("truecolor", "always"), **options
        )

    return factory
