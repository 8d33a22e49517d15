"""Errors shared across layers.

:class:`UserError` is a problem the user can fix (a bad flag, a missing or unreadable file): the
CLI prints its message on one line and exits 2, never with a traceback. Layers below the CLI
(the evaluation harness, for example) raise subclasses of it without importing the CLI.
The HTTP/service error, :class:`~zdte_tui.service.protocol.ServiceError`, is part of the query
protocol and lives there.
"""

from __future__ import annotations

import traceback


class UserError(Exception):
    """A problem the user can fix (bad flag, missing file): printed without a traceback."""


def raised_at(exc: BaseException) -> str:
    """``file.py:line`` of the innermost frame that raised ``exc`` (``?`` without a traceback): with
    the exception type it names one bug, so a bug hit on every event is logged once."""
    frames = traceback.extract_tb(exc.__traceback__)
    return f"{frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else "?"


__all__ = ["UserError", "raised_at"]
