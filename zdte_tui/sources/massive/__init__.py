"""Massive (formerly Polygon.io) live adapter: ``config.py`` (its settings section), ``parsing.py`` (vendor
messages to records) and ``source.py`` (the :class:`~zdte_tui.sources.live.http.RestLiveSource`
subclass, registered in :data:`zdte_tui.sources.LIVE_ADAPTERS`)."""
