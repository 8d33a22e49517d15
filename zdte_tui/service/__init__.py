"""The FlowService layer: the one query surface over the embedded engine.

* :mod:`~zdte_tui.service.protocol`: the query protocol (``FlowServiceAPI``, ``ServiceError``, the
  accepted parameter values). It has no heavy imports: the TUI and the HTTP client use only it.
* :mod:`~zdte_tui.service.pump`: the engine, its lock and the thread that feeds a source into it.
* :mod:`~zdte_tui.service.queries`: :class:`FlowService`, input validation and locking per query.
* :mod:`~zdte_tui.service.validation`: arguments -> documented ``ServiceError`` codes.
* :mod:`~zdte_tui.service.views`: response shaping (every response body is built there).
* :mod:`~zdte_tui.service.playback`: pause/seek/speed of a replayable source's clock.

``from zdte_tui.service import FlowService`` loads the engine on first use only, so importing
:mod:`zdte_tui.service.protocol` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from zdte_tui.service.protocol import FlowServiceAPI, ServiceError

if TYPE_CHECKING:
    from zdte_tui.service.queries import FlowService


def __getattr__(name: str) -> Any:
    if name == "FlowService":
        from zdte_tui.service.queries import FlowService

        return FlowService
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["FlowService", "FlowServiceAPI", "ServiceError"]
