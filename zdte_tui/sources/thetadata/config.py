"""``[live.thetadata]``: the settings section the ThetaData adapter takes.

ThetaData is reached through the locally running Theta Terminal, which holds the account
credentials itself: no key passes through zdte. REST on ``http://host:port`` (v2 API,
default port 25510), streaming on ``ws://host:ws_port/v1/events`` (default 25520).
"""

from __future__ import annotations

from pydantic import Field

from zdte_tui.sources.live.config import LiveSection, NonEmpty, Port, PositiveFloat


class ThetaDataConfig(LiveSection):
    """A running Theta Terminal (no key here: the terminal holds the login)."""

    host: NonEmpty = "127.0.0.1"
    """Theta Terminal host."""
    port: Port = 25510
    """Theta Terminal REST port."""
    ws_port: Port = 25520
    """Theta Terminal streaming port."""
    rest_timeout_s: PositiveFloat = 30.0
    """Seconds to wait for a REST reply (the terminal can be slow on a cold chain)."""
    max_pages: int = Field(200, ge=1)
    """next_page links followed at most per request (a loop stops here)."""

    @property
    def rest_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{self.host}:{self.ws_port}/v1/events"
