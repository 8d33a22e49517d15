"""Machinery shared by the live adapters: the :class:`LiveSource` base class (``base.py``), its
errors, secret hygiene, normalized records, reconnect backoff, the bounded frame buffer, and the
factory that builds a registered adapter by name."""
