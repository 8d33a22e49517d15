"""``[live.massive]``: the settings section the Massive (formerly Polygon.io) adapter takes.

The API key is read from the environment variable named by ``api_key_env`` (default
``MASSIVE_API_KEY``), or passed programmatically as ``api_key``; never from the command line
and never from the config file.
"""

from __future__ import annotations

from pydantic import Field

from zdte_tui.sources.live.config import EnvName, LiveSection, SecureHttpUrl, SecureWsUrl


class MassiveConfig(LiveSection):
    """Massive (formerly Polygon.io): OPRA trades and quotes over WebSocket, chains over REST."""

    api_key_env: EnvName = "MASSIVE_API_KEY"
    """Environment variable holding the API key."""
    ws_url: SecureWsUrl = "wss://socket.massive.com"
    """WebSocket cluster base: /options, /stocks, /indices are appended ("wss://delayed.massive.com" = 15-min delayed)."""
    rest_url: SecureHttpUrl = "https://api.massive.com"
    """REST base URL."""
    page_limit: int = Field(250, ge=1, le=250)
    """Results per chain-snapshot page (the documented maximum is 250)."""
    subscribe_chunk: int = Field(200, ge=1)
    """Contracts per subscribe message."""
    max_pages: int = Field(200, ge=1)
    """Chain-snapshot pages followed at most (a loop or a runaway cursor stops here)."""

    @property
    def ws_base(self) -> str:
        base = self.ws_url.rstrip("/")
        for suffix in ("/options", "/stocks", "/indices"):
            if base.endswith(suffix):
                return base[: -len(suffix)]
        return base
