"""Credential hygiene: a Secret that never prints itself, redaction, and a logging filter that
removes keys from every record (library debug logs of websocket frames would otherwise show an
auth message)."""

from __future__ import annotations

import logging
import os

from zdte_tui.sources.live.errors import SourceAuthError


class Secret:
    """A credential that never shows itself in ``repr``/``str``/logs; ``reveal()`` to use it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)


def redact(text: object, *secrets: Secret | str | None) -> str:
    """``str(text)`` with every secret value replaced by ``***``."""
    out = str(text)
    for s in secrets:
        value = s.reveal() if isinstance(s, Secret) else s
        if value:
            out = out.replace(value, "***")
    return out


class RedactingFilter(logging.Filter):
    """Replaces secret values in every record that passes through (library debug logs of
    websocket frames would otherwise show an auth message)."""

    def __init__(self, *secrets: Secret) -> None:
        super().__init__()
        self._secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message, *self._secrets)
        if clean != message:
            record.msg, record.args = clean, ()
        return True


def ws_logger(provider: str, *secrets: Secret) -> logging.Logger:
    """Logger handed to ``websockets``: never below INFO (no frame dumps) and redacting."""
    logger = logging.getLogger(f"zdte_tui.sources.{provider}.ws")
    logger.setLevel(logging.INFO)
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter(*secrets))
    else:
        for f in logger.filters:
            if isinstance(f, RedactingFilter):
                f._secrets = tuple(dict.fromkeys((*f._secrets, *secrets)))
    return logger


def resolve_secret(explicit: str | Secret | None, env_var: str | None, provider: str,
                   config_key: str) -> Secret:
    """The credential from config (``explicit``) or else the environment variable ``env_var``.

    Raises :class:`SourceAuthError` naming the variable when neither is set. Keys are never
    read from the command line.
    """
    if isinstance(explicit, Secret) and explicit:
        return explicit
    if isinstance(explicit, str) and explicit.strip():
        return Secret(explicit.strip())
    value = os.environ.get(env_var or "", "").strip() if env_var else ""
    if not value:
        raise SourceAuthError(
            f"{provider}: no credentials: set the environment variable ${env_var} "
            f"(name configurable as [live.{provider}] {config_key} in config.toml)")
    return Secret(value)
