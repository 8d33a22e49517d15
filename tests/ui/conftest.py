"""Fixtures for the TUI tests: a deterministic fake service and an app factory."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from zdte_tui.ui.app import ZdteApp

from .fake_service import FakeFlowService


@pytest.fixture
def fake_service() -> FakeFlowService:
    return FakeFlowService()


@pytest.fixture
def make_app() -> Callable[..., ZdteApp]:
    """Build a ZdteApp on a FakeFlowService; keyword args split between the two."""

    def factory(symbols=("SPY",), mode="monitor", service: FakeFlowService | None = None, **options) -> ZdteApp:
        service = service or FakeFlowService()
        truecolor = options.pop("truecolor", "always")
        return ZdteApp(service, symbols=list(symbols), mode=mode, truecolor=truecolor, **options)

    return factory
