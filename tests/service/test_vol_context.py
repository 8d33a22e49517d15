"""vol_context in the snapshot: filled from the source's VolContext, null (and said so) without one."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from zdte_tui.market.events import VolContext
from zdte_tui.market.term import SIM_TERM_PREMIUM, SIM_TERM_TRADING_TO_ACT365
from zdte_tui.service import FlowService
from zdte_tui.sources.sim import SimSource
from zdte_tui.sources.sim_model import simulate_session

DAY = dt.date(2025, 6, 13)


def _service_at(at: str, drop_vol: bool = False) -> FlowService:
    src = SimSource(["SPY"], session_date=DAY, seed=7, at=at, speed=None)
    svc = FlowService(src)

    async def pump() -> None:
        async for ev in src:
            if drop_vol and isinstance(ev, VolContext):
                continue
            svc.apply(ev)
            if svc.engine.clock_ns >= src.start_ns:
                break

    asyncio.run(pump())
    return svc


def test_simulated_session_fills_seven_dte_iv_and_the_ratio_by_the_documented_rule():
    vc = _service_at("11:00").snapshot("SPY")["vol_context"]
    atm_open = simulate_session("SPY", DAY, 7, "auto").info["atm_iv_open"]
    expected = atm_open * (1 + SIM_TERM_PREMIUM) * SIM_TERM_TRADING_TO_ACT365
    assert vc["seven_dte_atm_iv"] == pytest.approx(expected, abs=1e-4)
    assert vc["seven_dte_expiration"] == "2025-06-20"
    assert vc["iv_ratio_0dte_7dte"] == pytest.approx(vc["zero_dte_atm_iv"] / vc["seven_dte_atm_iv"], rel=1e-2)
    assert vc["vix"] is None and "VIX is not available" in vc["description"]


def test_without_a_vol_context_event_the_fields_are_null_and_the_description_says_why():
    vc = _service_at("11:00", drop_vol=True).snapshot("SPY")["vol_context"]
    assert (vc["seven_dte_atm_iv"], vc["iv_ratio_0dte_7dte"], vc["vix"]) == (None, None, None)
    assert "no next-week expiry" in vc["description"]
