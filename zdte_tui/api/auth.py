"""API keys, plans and per-key rate limiting for ``zdte serve``.

Plans are ordered ``free < basic < growth < alpha`` as on FlashAlpha. A key maps to one plan;
an endpoint needs a minimum plan. The rate limit is a token bucket per key (or per client
address when the server runs without keys): capacity ``rate_per_minute`` tokens, refilled at
``rate_per_minute / 60`` tokens per second, one token per request. Failed key checks spend
tokens of a second, smaller bucket per client address; while it is empty every keyed request
from that address is refused (so keys cannot be guessed at request speed).
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping

from zdte_tui.config import API_PLANS as PLANS
from zdte_tui.config import parse_api_keys as _parse_entries
from zdte_tui.sources.live.config import is_loopback_host as is_loopback_host

PLAN_RANK = {plan: rank for rank, plan in enumerate(PLANS)}


def plan_display_name(plan: str) -> str:
    """``growth`` -> ``Growth`` (the capitalisation FlashAlpha uses in 403 bodies)."""
    return plan.capitalize()


def plan_allows(current_plan: str, required_plan: str) -> bool:
    """True when ``current_plan`` is at or above ``required_plan``."""
    return PLAN_RANK[current_plan] >= PLAN_RANK[required_plan]


def parse_api_keys(specs: Iterable[str] = (), env_value: str | None = None) -> dict[str, str]:
    """``{key: plan}`` from ``KEY[:PLAN]`` entries (``--api-key`` flags and a comma-separated env
    value), parsed by :func:`zdte_tui.config.parse_api_key`: the plan defaults to ``alpha`` and
    follows the *last* colon, so a key may itself contain colons. Errors never repeat the key.
    Later entries win for a repeated key.
    """
    entries = [s for s in (env_value or "").split(",")] + list(specs)
    return {k.key.get_secret_value(): k.plan for k in _parse_entries(entries)}


def is_remote_client(client_host: str | None) -> bool:
    """True when a connection's peer address is an IP that is *not* loopback.

    Non-IP peers (a Unix socket, an in-process test transport) are local by construction.
    """
    if not client_host:
        return False
    try:
        addr = ipaddress.ip_address(client_host.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return not addr.is_loopback


class RateLimiter:
    """Token bucket per key: ``capacity = rate_per_minute``, refill ``rate_per_minute / 60`` per second.

    ``rate_per_minute <= 0`` disables limiting. ``clock`` returns seconds (monotonic) and is
    injectable for tests. Thread-safe.

    Memory is bounded: a bucket untouched for a full refill period (``60 s``) is full again, so it is
    dropped (it would be recreated full); buckets are kept in least-recently-used order, so this
    costs O(1) per request. If more than ``max_buckets`` keys are active within one refill period
    the least recently used bucket is dropped (that client starts again with a full bucket).
    """

    def __init__(self, rate_per_minute: int, clock: Callable[[], float] = time.monotonic, *,
                 max_buckets: int = 10_000) -> None:
        self.rate_per_minute = int(rate_per_minute)
        self._refill_per_second = self.rate_per_minute / 60.0
        self._clock = clock
        self.max_buckets = int(max_buckets)
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, last refill)
        self._lock = threading.Lock()
        self.evicted_full = 0
        self.evicted_lru = 0

    @property
    def enabled(self) -> bool:
        return self.rate_per_minute > 0

    def __len__(self) -> int:
        return len(self._buckets)

    def _refilled(self, key: str, now: float) -> float:
        tokens, last = self._buckets.get(key, (float(self.rate_per_minute), now))
        return min(float(self.rate_per_minute), tokens + max(0.0, now - last) * self._refill_per_second)

    def _evict(self, now: float) -> None:
        """Drop buckets idle for a whole refill period (oldest first), then the LRU ones over the cap."""
        while self._buckets:
            key, (_, last) = next(iter(self._buckets.items()))
            if now - last < 60.0:
                break
            del self._buckets[key]
            self.evicted_full += 1
        while len(self._buckets) > self.max_buckets:
            self._buckets.popitem(last=False)
            self.evicted_lru += 1

    def take(self, key: str) -> tuple[bool, int, int]:
        """Spend one token for ``key``: ``(allowed, tokens_remaining, retry_after_seconds)``.

        ``retry_after_seconds`` is ``ceil((1 - tokens) / refill_per_second)`` when refused
        (at least 1), else 0.
        """
        if not self.enabled:
            return True, 0, 0
        now = self._clock()
        with self._lock:
            tokens = self._refilled(key, now)
            allowed = tokens >= 1.0
            if allowed:
                tokens -= 1.0
            self._buckets[key] = (tokens, now)
            self._buckets.move_to_end(key)
            self._evict(now)
        if allowed:
            return True, int(tokens), 0
        return False, 0, self._retry_after(tokens)

    def blocked(self, key: str) -> int:
        """Seconds until ``key`` has a whole token again (0: not blocked). Spends nothing."""
        if not self.enabled:
            return 0
        now = self._clock()
        with self._lock:
            if key not in self._buckets:
                return 0
            tokens = self._refilled(key, now)
        return 0 if tokens >= 1.0 else self._retry_after(tokens)

    def _retry_after(self, tokens: float) -> int:
        return max(1, math.ceil((1.0 - tokens) / self._refill_per_second))


def resolve_plan(api_keys: Mapping[str, str], key: str | None) -> str | None:
    """The plan of ``key``, or None when it is missing or unknown."""
    if key is None:
        return None
    return api_keys.get(key)
