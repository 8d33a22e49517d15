"""Credential hygiene: keys are pydantic ``SecretStr`` (never shown by ``repr``/``str``), text is
redacted before it is logged or raised, and a logging filter removes keys from every record
(library debug logs of websocket frames would otherwise show an auth message)."""

from __future__ import annotations

import logging
import os

from pydantic import SecretStr

from zdte_tui.sources.live.errors import SourceAuthError


def redact(text: object, *secrets: SecretStr | str | None) -> str:
    """``str(text)`` with every secret value replaced by ``***``."""
    out = str(text)
    for s in secrets:
        value = s.get_secret_value() if isinstance(s, SecretStr) else s
        if value:
            out = out.replace(value, "***")
    return out


class RedactingFilter(logging.Filter):
    """Replaces secret values in every record that passes through."""

    def __init__(self, *secrets: SecretStr) -> None:
        super().__init__()
        self.secrets: tuple[SecretStr, ...] = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact(message, *self.secrets)
        if clean != message:
            record.msg, record.args = clean, ()
        return True


def ws_logger(provider: str, *secrets: SecretStr) -> logging.Logger:
    """Logger handed to ``websockets``: never below INFO (no frame dumps) and redacting."""
    logger = logging.getLogger(f"zdte_tui.sources.{provider}.ws")
    logger.setLevel(logging.INFO)
    for f in logger.filters:
        if isinstance(f, RedactingFilter):
            f.secrets = tuple(dict.fromkeys((*f.secrets, *secrets)))
            return logger
    logger.addFilter(RedactingFilter(*secrets))
    return logger


def resolve_secret(explicit: str | SecretStr | None, env_var: str | None, provider: str,
                   config_key: str) -> SecretStr:
    """The credential given programmatically (``explicit``) or else the environment variable ``env_var``.

    Raises :class:`SourceAuthError` naming the variable when neither is set. Keys are never
    read from the command line or the config file.
    """
    if isinstance(explicit, SecretStr):
        explicit = explicit.get_secret_value()
    if isinstance(explicit, str) and explicit.strip():
        return SecretStr(explicit.strip())
    value = os.environ.get(env_var or "", "").strip() if env_var else ""
    if not value:
        raise SourceAuthError(
            f"{provider}: no credentials: set the environment variable ${env_var} "
            f"(name configurable as [live.{provider}] {config_key} in config.toml)")
    return SecretStr(value)
