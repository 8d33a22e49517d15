"""What every live adapter's settings section has in common, and the checked value types the
settings model uses (:mod:`zdte_tui.config` composes the sections into one model).

Each adapter's own section (``sources/<provider>/config.py``) subclasses :class:`LiveSection`;
the adapter takes that section object itself, so nothing is translated or defined twice.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict

DEFAULT_STRIKE_BAND_PCT = 4.0
"""Strikes within this percent of spot are subscribed (``[engine] strike_band_pct``)."""

_ENV_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _percent(value: float) -> float:
    if not 0 < value < 100:
        raise ValueError(f"must be a percentage in (0, 100), got {value}")
    return value


def _positive(value: float) -> float:
    if not value > 0:
        raise ValueError(f"must be > 0, got {value}")
    return value


def _port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise ValueError(f"must be a TCP port 1-65535, got {value}")
    return value


def _env_name(value: str) -> str:
    if not _ENV_NAME_RE.fullmatch(value):
        raise ValueError(f"{value!r} is not an environment variable name")
    return value


def _non_empty(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value.strip()


def is_loopback_host(host: str | None) -> bool:
    """True for ``localhost``, ``127.0.0.0/8`` and ``::1`` (brackets allowed: ``[::1]``)."""
    if not host:
        return False
    name = host.strip().strip("[]").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


def _keyed_url(secure: str, plain: str):
    """A URL that carries credentials: ``secure://`` (``plain://`` only to a loopback host)."""

    def check(value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme == secure:
            return value.rstrip("/")
        if parts.scheme == plain and is_loopback_host(parts.hostname):
            return value.rstrip("/")
        raise ValueError(f"{value!r} must start with {secure}:// (credentials are sent over it; "
                         f"{plain}:// only to a loopback host)")

    return check


def _any_url(*schemes: str):
    def check(value: str) -> str:
        if urlsplit(value).scheme not in schemes or not urlsplit(value).netloc:
            raise ValueError(f"{value!r} must start with " + " or ".join(f"{s}://" for s in schemes))
        return value.rstrip("/")

    return check


Percent = Annotated[float, AfterValidator(_percent)]
PositiveFloat = Annotated[float, AfterValidator(_positive)]
Port = Annotated[int, AfterValidator(_port)]
EnvName = Annotated[str, AfterValidator(_env_name)]
NonEmpty = Annotated[str, AfterValidator(_non_empty)]
SecureWsUrl = Annotated[str, AfterValidator(_keyed_url("wss", "ws"))]
SecureHttpUrl = Annotated[str, AfterValidator(_keyed_url("https", "http"))]
HttpUrl = Annotated[str, AfterValidator(_any_url("http", "https"))]


class Section(BaseModel):
    """A frozen settings section: unknown keys and wrong types are errors (no coercion)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, allow_inf_nan=False)


class LiveSection(Section):
    """Keys every ``[live.<provider>]`` section has."""

    strike_band_pct: Percent | None = None
    """Subscribe strikes within this % of spot (unset: [engine] strike_band_pct)."""
    open_timeout_s: PositiveFloat = 10.0
    """Seconds to wait for a websocket to open and authenticate."""
    rest_timeout_s: PositiveFloat = 15.0
    """Seconds to wait for a REST reply."""
