"""Errors of the live adapters (shared by every provider)."""

from __future__ import annotations


class SourceAuthError(RuntimeError):
    """Bad or missing credentials: raised once from ``events()`` (or the constructor when no
    key is configured), never retried. The message names the env var, never the key."""


class SourceConnectionError(RuntimeError):
    """A feed could not be (re)connected within ``max_consecutive_failures`` attempts."""


class MalformedMessage(ValueError):
    """A frame or event that does not follow the vendor's documented format."""


PARSE_ERRORS: tuple[type[Exception], ...] = (MalformedMessage, KeyError, TypeError, ValueError)
"""What parsing vendor data raises when the data is malformed (a missing key, a wrong type, a
bad number): counted as malformed. Any other exception is a bug and is reported as one."""
