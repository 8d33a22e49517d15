"""The shared live-adapter machinery with a stub adapter (no sockets): what counts as malformed
and what is reported as a bug, and the adapter registry."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, date, datetime

import pytest

from zdte_tui.market.events import EventBatch, FeedStatus
from zdte_tui.sources import LIVE_ADAPTERS
from zdte_tui.sources.live.base import LiveSource
from zdte_tui.sources.live.errors import MalformedMessage
from zdte_tui.sources.live.factory import live_adapter
from zdte_tui.sources.live.records import ChainSnapshot, ContractSpec, ParsedFrame, TradeTick

from .servers import FakeClock, next_event, no_sleep

SESSION = date(2026, 6, 5)
START_NS = int(datetime(2026, 6, 5, 14, 0, tzinfo=UTC).timestamp() * 1e9)  # 10:00 ET


class _ListSocket:
    """Yields the given frames, then stays open until closed."""

    def __init__(self, frames: list[str]) -> None:
        self._frames = list(frames)
        self._closed = asyncio.Event()

    def __aiter__(self):
        return self

    async def __anext__(self) -> str:
        if self._frames:
            return self._frames.pop(0)
        await self._closed.wait()
        raise StopAsyncIteration

    async def close(self) -> None:
        self._closed.set()


class _StubSource(LiveSource):
    """``bad`` frames are malformed, ``bug`` frames hit a bug in the parser, others are a trade."""

    name = "stub"

    def __init__(self, frames: list[str]) -> None:
        super().__init__(["SPY"], session_date=SESSION, strike_band_pct=1.0, batch_interval_s=0.01,
                         clock_ns=FakeClock(START_NS), sleep=no_sleep)
        self._frames = frames

    def _channels(self) -> tuple[str, ...]:
        return ("all",)

    async def _fetch_chain(self, underlying: str, expiry: date) -> ChainSnapshot:
        return ChainSnapshot(underlying, expiry, (ContractSpec("C590", "SPY   260605C00590000", 590.0, True),),
                             spot=590.0)

    async def _open_channel(self, channel: str) -> _ListSocket:
        return _ListSocket(self._frames)

    async def _send_subscriptions(self, channel, ws, add, remove, full) -> None:
        return None

    def _parse_frame(self, channel: str, data: str | bytes) -> ParsedFrame:
        if data == "bad":
            raise MalformedMessage("not the vendor's format")
        if data == "bug":
            return None.ticks  # type: ignore[attr-defined]  # an AttributeError: a bug in zdte
        return ParsedFrame(ticks=[TradeTick("C590", START_NS + 1, 1.25, 3)])


async def test_malformed_frames_are_counted_and_parser_bugs_reported_once_with_traceback(caplog):
    src = _StubSource(["bad", "bug", "bug", "good"])
    agen = src.events()
    seen: list = []
    with caplog.at_level(logging.ERROR, logger="zdte_tui.sources.live.base"):
        await next_event(agen, lambda e: isinstance(e, EventBatch) and len(e.trades) == 1, seen)
        if not any(isinstance(e, FeedStatus) and e.kind == "malformed" for e in seen):  # the bad frame may
            await next_event(agen, lambda e: isinstance(e, FeedStatus) and e.kind == "malformed", seen)  # flush later
    await agen.aclose()

    assert src.malformed_total == 1  # only the frame that did not follow the format
    assert src.internal_error_total == 2  # both bug frames counted as bugs, not as malformed
    errors = [e for e in seen if isinstance(e, FeedStatus) and e.kind == "error"]
    assert len(errors) == 1 and "internal error" in errors[0].message and "AttributeError" in errors[0].message
    logged = [r for r in caplog.records if r.exc_info]
    assert len(logged) == 1 and logged[0].exc_info[0] is AttributeError


def test_registry_names_each_adapter_and_the_factory_loads_it():
    assert set(LIVE_ADAPTERS) == {"massive", "thetadata", "tradier"}
    for name in LIVE_ADAPTERS:
        cls = live_adapter(name)
        assert issubclass(cls, LiveSource) and cls.name == name
    with pytest.raises(ValueError, match="unknown live source 'ibkr'"):
        live_adapter("ibkr")
