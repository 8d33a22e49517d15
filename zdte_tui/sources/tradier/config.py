"""``[live.tradier]``: the settings section the Tradier adapter takes.

The access token is read from the environment variable named by ``token_env`` (default
``TRADIER_TOKEN``), or passed programmatically as ``token``; never from the command line.
Sandbox (paper) accounts use ``rest_url = "https://sandbox.tradier.com"`` (15-min delayed).
"""

from __future__ import annotations

from zdte_tui.sources.live.config import EnvName, LiveSection, SecureHttpUrl, SecureWsUrl


class TradierConfig(LiveSection):
    """Tradier: market-data REST and the market events stream."""

    token_env: EnvName = "TRADIER_TOKEN"
    """Environment variable holding the access token."""
    rest_url: SecureHttpUrl = "https://api.tradier.com"
    """REST base URL (a trailing /v1 is accepted)."""
    stream_url: SecureWsUrl = "wss://ws.tradier.com/v1/markets/events"
    """Market events stream."""

    @property
    def api_base(self) -> str:
        """REST host without the ``/v1`` version prefix (request paths carry it)."""
        base = self.rest_url.rstrip("/")
        return base[: -len("/v1")] if base.endswith("/v1") else base

    @property
    def events_url(self) -> str:
        base = self.stream_url.rstrip("/")
        return base if base.endswith("/v1/markets/events") else base + "/v1/markets/events"
