"""Pagination guard for the REST chain requests of the live adapters.

A vendor's ``next_url`` / ``next_page`` is followed at most ``max_pages`` times and never to a
URL already fetched: a page that points to itself (or a cycle of pages) stops the walk with a
note instead of looping for ever. What was fetched so far is kept; the note is reported as a
feed error.
"""

from __future__ import annotations

DEFAULT_MAX_PAGES = 200  # a full SPX chain is ~10 pages of 250 contracts


class PageGuard:
    def __init__(self, what: str, max_pages: int = DEFAULT_MAX_PAGES) -> None:
        self.what, self.max_pages = what, int(max_pages)
        self.pages = 0
        self._seen: set[str] = set()
        self.note: str | None = None

    def admit(self, url: str) -> bool:
        """True to fetch ``url`` as the next page; False (with :attr:`note` set) to stop."""
        if url in self._seen:
            self.note = f"{self.what}: the next page link repeats a page already fetched; pagination stopped " \
                        f"after {self.pages} page(s)"
            return False
        if self.pages >= self.max_pages:
            self.note = f"{self.what}: more than {self.max_pages} pages; pagination stopped (page cap)"
            return False
        self._seen.add(url)
        self.pages += 1
        return True
