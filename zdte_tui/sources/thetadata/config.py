"""Settings of the ThetaData adapter: ``[live.thetadata]`` in config.toml.

ThetaData is reached through the locally running Theta Terminal, which holds the account
credentials itself: no key passes through zdte. REST on ``http://host:port`` (v2 API,
default port 25510), streaming on ``ws://host:ws_port/v1/events`` (default 25520).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ThetaDataConfig:
    host: str = "127.0.0.1"
    port: int = 25510
    ws_port: int = 25520
    open_timeout_s: float = 10.0
    rest_timeout_s: float = 30.0
    max_pages: int = 200  # next_page links followed at most per request

    @property
    def rest_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.ws_port}/v1/events"
