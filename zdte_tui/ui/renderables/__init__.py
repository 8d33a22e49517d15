"""Pure Rich renderables for the panes (tested without an App)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from rich.segment import Segment


def join_lines(lines: Sequence[Iterable[Segment]]) -> Iterator[Segment]:
    """The segments of ``lines`` with a newline between consecutive lines (none after the last)."""
    for i, line in enumerate(lines):
        yield from line
        if i < len(lines) - 1:
            yield Segment.line()
