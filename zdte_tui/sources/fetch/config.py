"""``[fetch.databento]``: the settings section of ``zdte fetch-day --vendor databento``.

Massive and ThetaData downloads use their live sections (``[live.massive]`` key and REST URL,
``[live.thetadata]`` terminal host and port): one account, one place. The key is read from the
environment variable named by ``api_key_env``; never from the command line or the file.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from zdte_tui.sources.live.config import EnvName, NonEmpty, PositiveFloat, Section, SecureHttpUrl


class DatabentoHistConfig(Section):
    """Databento historical API: OPRA trades with the NBBO in force (tcbbo), quotes, OI, definitions."""

    api_key_env: EnvName = "DATABENTO_API_KEY"
    """Environment variable holding the API key."""
    hist_url: SecureHttpUrl = "https://hist.databento.com"
    """Historical API base URL."""
    dataset: NonEmpty = "OPRA.PILLAR"
    """Options dataset."""
    quotes_schema: Literal["cbbo-1s", "cbbo-1m", "none"] = "cbbo-1m"
    """Consolidated quotes between trades: cbbo-1s (large), cbbo-1m, or none (tcbbo's NBBO at each trade only)."""
    equities_dataset: str = "EQUS.MINI"
    """Dataset of the underlying's quotes ("" = none: spot from put-call parity); indices always use parity."""
    equities_schema: Literal["bbo-1s", "bbo-1m", "trades"] = "bbo-1s"
    """Schema of the underlying's records."""
    chunk_minutes: Annotated[int, Field(ge=1, le=390)] = 30
    """Minutes of the session per downloaded part (a broken download resumes at the part it stopped in)."""
    max_symbols: Annotated[int, Field(ge=1, le=2000)] = 2000
    """Contracts per request (the API takes at most 2,000 symbols)."""
    timeout_s: PositiveFloat = 300.0
    """Seconds to wait for a reply."""


class FetchSettings(Section):
    """zdte fetch-day: vendor sections not shared with a live feed."""

    databento: DatabentoHistConfig = DatabentoHistConfig()
