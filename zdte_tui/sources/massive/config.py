"""Settings of the Massive (formerly Polygon.io) adapter: ``[live.massive]`` in config.toml.

The API key is read from the environment variable named by ``api_key_env`` (default
``MASSIVE_API_KEY``), or passed programmatically as ``api_key``; never from the command line.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_WS_URL = "wss://socket.massive.com"  # real-time; "wss://delayed.massive.com" = 15-min delayed
DEFAULT_REST_URL = "https://api.massive.com"


@dataclass(frozen=True)
class MassiveConfig:
    api_key_env: str = "MASSIVE_API_KEY"
    ws_url: str = DEFAULT_WS_URL  # cluster base: /options, /stocks, /indices are appended
    rest_url: str = DEFAULT_REST_URL
    page_limit: int = 250  # results per chain-snapshot page (the documented maximum)
    subscribe_chunk: int = 200  # contracts per subscribe message
    open_timeout_s: float = 10.0
    rest_timeout_s: float = 15.0
    max_pages: int = 200  # chain-snapshot pages followed at most (a loop or a runaway cursor stops here)

    @property
    def ws_base(self) -> str:
        base = self.ws_url.rstrip("/")
        for suffix in ("/options", "/stocks", "/indices"):
            if base.endswith(suffix):
                return base[: -len(suffix)]
        return base
