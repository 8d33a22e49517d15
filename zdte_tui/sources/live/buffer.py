"""The bounded buffer between socket readers and the consumer of a live source.

**Drop policy (slow consumer).** The reader never blocks on the consumer: blocking would
stall websocket pings and the vendors disconnect slow clients anyway. When the buffer
holds ``buffer_max_frames`` frames, or a frame would take it past ``buffer_max_bytes``
bytes of frame data, newer frames are dropped and counted (``dropped_total``,
``dropped_bytes``); the consumer emits ``FeedStatus("gap_start")`` after the frames
buffered before the first drop and ``FeedStatus("gap_end", count=dropped)`` as soon as it
has freed a slot. Memory is bounded by ``buffer_max_bytes`` of frame data (and
``buffer_max_frames`` frame objects) plus two markers per drop episode; a single frame
larger than ``buffer_max_bytes`` is always dropped.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_MAX_BYTES = 64 * 1024 * 1024  # frame data held for the consumer, all channels together


@dataclass(frozen=True, slots=True)
class Frame:
    channel: str
    recv_ns: int
    data: str | bytes


@dataclass(frozen=True, slots=True)
class Control:
    kind: str  # "gap_start" | "gap_end" | "error" | "fatal"
    channel: str
    ts_ns: int
    message: str = ""
    count: int = 0
    exc: BaseException | None = None


class FrameBuffer:
    """Bounded FIFO between socket readers and the consumer (drop-newest when full).

    Frames beyond ``max_frames`` are refused and counted per channel. The first refusal of
    an episode queues a ``gap_start`` marker (after the frames already buffered); as soon as
    the consumer frees a slot, every open episode is closed with a ``gap_end`` marker carrying
    the number of frames dropped. Markers always enter; they are few (two per episode)."""

    def __init__(self, max_frames: int, clock_ns: Callable[[], int] = time.time_ns,
                 source_name: str = "live", max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        if max_frames < 1:
            raise ValueError("buffer_max_frames must be >= 1")
        if max_bytes < 1:
            raise ValueError("buffer_max_bytes must be >= 1")
        self.max_frames = max_frames
        self.max_bytes = max_bytes
        self._n_bytes = 0
        self.dropped_bytes = 0
        self.high_water_bytes = 0
        self._clock_ns = clock_ns
        self._name = source_name
        self._items: deque[Frame | Control] = deque()
        self._n_frames = 0
        self._ready = asyncio.Event()
        self._episodes: dict[str, int] = {}
        self.dropped_total = 0
        self.high_water = 0

    def put_frame(self, frame: Frame) -> bool:
        size = len(frame.data)
        if self._n_frames >= self.max_frames or self._n_bytes + size > self.max_bytes:
            if frame.channel not in self._episodes:
                self._episodes[frame.channel] = 0
                self.put_control(Control(
                    "gap_start", frame.channel, frame.recv_ns,
                    message=f"{self._name} {frame.channel}: consumer too slow, dropping frames"))
            self._episodes[frame.channel] += 1
            self.dropped_total += 1
            self.dropped_bytes += size
            return False
        self._items.append(frame)
        self._n_frames += 1
        self._n_bytes += size
        self.high_water = max(self.high_water, self._n_frames)
        self.high_water_bytes = max(self.high_water_bytes, self._n_bytes)
        self._ready.set()
        return True

    def close_episode(self, channel: str) -> None:
        """End ``channel``'s drop episode now (e.g. its socket closed)."""
        count = self._episodes.pop(channel, None)
        if count is not None:
            self.put_control(Control("gap_end", channel, self._clock_ns(), count=count,
                                      message=f"{self._name} {channel}: {count} frame(s) dropped"))

    def put_control(self, item: Control) -> None:
        self._items.append(item)
        self._ready.set()

    def __len__(self) -> int:
        return len(self._items)

    @property
    def n_frames(self) -> int:
        return self._n_frames

    @property
    def n_bytes(self) -> int:
        return self._n_bytes

    async def get(self, timeout_s: float) -> Frame | Control | None:
        """Next item, or ``None`` after ``timeout_s`` seconds without one."""
        if not self._items:
            self._ready.clear()
            try:  # asyncio.timeout: 3.11's wait_for can drop the consumer's cancellation (gh-86296)
                async with asyncio.timeout(max(0.0, timeout_s)):
                    await self._ready.wait()
            except TimeoutError:
                return None
        item = self._items.popleft()
        if isinstance(item, Frame):
            self._n_frames -= 1
            self._n_bytes -= len(item.data)
            for channel in list(self._episodes):
                self.close_episode(channel)
        return item
