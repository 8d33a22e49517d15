"""``zdte fetch-day``: one real session's same-day-expiry option trades with the NBBO in force,
the underlying and the settled open interest, downloaded from a vendor's historical API into a
recording that ``zdte replay`` plays like any other.

One module per vendor (``databento.py``, ``massive.py``, ``thetadata.py``), each a class with
``identity()`` (what the resumable parts directory holds) and ``run(out, parts, progress,
confirm)``; ``common.py`` holds the parts directory, the HTTP error mapping, progress and the
recording writer they share. The vendors are registered by name in :data:`FETCHERS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

FETCHERS: Mapping[str, str] = MappingProxyType({
    "databento": "zdte_tui.sources.fetch.databento:DatabentoFetch",
    "massive": "zdte_tui.sources.fetch.massive:MassiveFetch",
    "thetadata": "zdte_tui.sources.fetch.thetadata:ThetaDataFetch",
})
"""``--vendor NAME`` -> ``"module:Class"``."""
