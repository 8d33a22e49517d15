"""Errors shared across layers.

:class:`UserError` is a problem the user can fix (a bad flag, a missing or unreadable file): the
CLI prints its message on one line and exits 2, never with a traceback. Layers below the CLI
(the evaluation harness, for example) raise subclasses of it without importing the CLI.
The HTTP/service error, :class:`~zdte_tui.service.protocol.ServiceError`, is part of the query
protocol and lives there.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix (bad flag, missing file): printed without a traceback."""


__all__ = ["UserError"]
