"""The app tells a service that holds its source after the first symbol (SourcePump.hold_after_first_
symbol) to go on once the first screen shows data (issue 17, "Fast start"), in monitor and watch mode."""

from __future__ import annotations

import pytest

from .fake_service import FakeFlowService
from .helpers import settle

SMALL = (120, 35)


class HoldingService(FakeFlowService):
    def __init__(self) -> None:
        super().__init__()
        self.released = 0

    def release_hold(self) -> None:
        self.released += 1


@pytest.mark.parametrize("mode", ["monitor", "watch"])
async def test_the_first_refresh_with_data_releases_the_hold(make_app, mode):
    service = HoldingService()
    app = make_app(symbols=["SPY", "QQQ"], service=service, mode=mode)
    assert service.released == 0
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        assert service.released >= 1
