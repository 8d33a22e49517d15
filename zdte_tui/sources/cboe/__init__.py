"""Cboe delayed-quotes chain downloads (``quotedata.csv``): parsing, projection, snapshot source.

``parsing`` reads any real download into a :class:`CboeChain` (counts of what was left out);
``session`` decides the session, expiry, valuation time and spot (pure functions);
``source`` turns it into engine events. See docs/data-sources.md.
"""

from zdte_tui.sources.cboe.parsing import CboeChain, CboeContract, CboeFormatError, load_cboe_chain, parse_cboe_date
from zdte_tui.sources.cboe.session import ParitySpot, SnapshotPlan, parity_spot, plan_snapshot
from zdte_tui.sources.cboe.source import CboeSnapshotSource

__all__ = ["CboeChain", "CboeContract", "CboeFormatError", "CboeSnapshotSource", "ParitySpot", "SnapshotPlan",
           "load_cboe_chain", "parity_spot", "parse_cboe_date", "plan_snapshot"]
