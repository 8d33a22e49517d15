"""status()["symbols"] names every symbol the source will deliver, not only those whose chain has
arrived (issue 13, defect 8: `s` said "no other symbol is tracked" for the first 30 s while the
simulator was still generating the watchlist's other days)."""

from __future__ import annotations

import pytest

from zdte_tui.service import FlowService
from zdte_tui.service.protocol import ServiceError

from .conftest import ListSource, build_session


def test_a_symbol_whose_chain_has_not_arrived_is_listed_and_answers_warming_up():
    service = FlowService(ListSource(build_session(minutes=2, trades_per_slice=10), symbols=("SPY", "QQQ")))
    service.run_to_end()
    assert service.status()["symbols"] == ["SPY", "QQQ"]
    with pytest.raises(ServiceError) as warming:
        service.snapshot("QQQ")
    assert warming.value.code == "warming_up"
