"""Shared helpers for the TUI tests."""

from __future__ import annotations


async def settle(pilot) -> None:
    """Wait until every worker finished and its messages were handled (no sleeps)."""
    for _ in range(3):
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()
