"""A fixed-window counter per client address, in the cache: for public pages that need no login
(survey answers, lead forms) and must not be flooded."""

from __future__ import annotations

from django.core.cache import cache
from django.http import HttpRequest


def client_address(request: HttpRequest) -> str:
    """The address the request came from (behind a proxy, the one the proxy set as REMOTE_ADDR)."""
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def over_limit(request: HttpRequest, what: str, *, limit: int, window_seconds: int) -> bool:
    """Count one more ``what`` from this address; whether that makes more than ``limit`` in the window."""
    key = f"ratelimit:{what}:{client_address(request)}"
    cache.add(key, 0, window_seconds)
    try:
        count = cache.incr(key)
    except ValueError:  # the key expired between add and incr
        cache.set(key, 1, window_seconds)
        count = 1
    return count > limit
