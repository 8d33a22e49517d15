"""Settings of the Tradier adapter: ``[live.tradier]`` in config.toml.

The access token is read from the environment variable named by ``token_env`` (default
``TRADIER_TOKEN``), or passed programmatically as ``token``; never from the command line.
Sandbox (paper) accounts use ``rest_url = "https://sandbox.tradier.com"`` (15-min delayed).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TradierConfig:
    token_env: str = "TRADIER_TOKEN"
    rest_url: str = "https://api.tradier.com"
    stream_url: str = "wss://ws.tradier.com"  # /v1/markets/events is appended
    open_timeout_s: float = 10.0
    rest_timeout_s: float = 15.0

    @property
    def api_base(self) -> str:
        """REST host without the ``/v1`` version prefix (request paths carry it)."""
        base = self.rest_url.rstrip("/")
        return base[: -len("/v1")] if base.endswith("/v1") else base

    @property
    def events_url(self) -> str:
        base = self.stream_url.rstrip("/")
        return base if base.endswith("/v1/markets/events") else base + "/v1/markets/events"
