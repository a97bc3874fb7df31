"""Login throttling (django-axes): where a login attempt comes from, and how long a lockout has left.

django-axes counts failed logins per username and client address (``AXES_*`` in settings) for every
login that goes through ``django.contrib.auth.authenticate`` with a request: the app's login page and
the Django admin's. The REST API takes no passwords at all (only personal tokens and the browser
session that the login page created), so it is no way around the lockout.
"""

from __future__ import annotations

import math
import time
from datetime import datetime, timedelta

from axes.helpers import get_client_ip_address, get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.http import HttpRequest
from django.utils import timezone


def client_ip(request: HttpRequest) -> str:
    """The client's address: the connection's own, or the one our ``CARTERA_PROXY_COUNT`` proxies saw.

    Each trusted proxy appends the address it was reached from to ``X-Forwarded-For``, so the client
    is the N-th entry from the right; anything further left was written by the client and is ignored.
    """
    remote = str(request.META.get("REMOTE_ADDR", ""))
    proxies = settings.CARTERA_PROXY_COUNT
    if proxies <= 0:
        return remote
    forwarded = [part.strip() for part in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",")]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < proxies:
        return remote
    return forwarded[-proxies]


def lockout_end(request: HttpRequest, username: str) -> datetime:
    """When the lockout of ``username`` from this request's address ends."""
    cool_off = get_cool_off(request) or timedelta(0)
    ip_address = getattr(request, "axes_ip_address", None) or get_client_ip_address(request)
    last = (
        AccessAttempt.objects.filter(username=username, ip_address=ip_address)
        .order_by("-attempt_time")
        .values_list("attempt_time", flat=True)
        .first()
    )
    return (last or timezone.now()) + cool_off


def minutes_until(end: datetime) -> int:
    """Whole minutes (at least 1) until ``end``: what the lockout page says is left."""
    return max(1, math.ceil((end - timezone.now()).total_seconds() / 60))


# Locked-out (username, address) pairs this process has refused recently: until when it may refuse
# them again without asking the database (``time.monotonic()``), and when the lockout ends.
_recent_lockouts: dict[tuple[str, str], tuple[float, datetime]] = {}
_RECENT_LOCKOUTS_KEPT = 10_000


def remember_lockout(request: HttpRequest, username: str, end: datetime) -> None:
    """Note that ``username`` is locked out from this request's address until ``end``."""
    if len(_recent_lockouts) >= _RECENT_LOCKOUTS_KEPT:
        _recent_lockouts.clear()  # a flood of usernames: start again rather than grow without end
    recheck = time.monotonic() + settings.CARTERA_LOGIN_LOCKOUT_RECHECK_SECONDS
    _recent_lockouts[(username, client_ip(request))] = (recheck, end)


def recent_lockout_minutes(request: HttpRequest, username: str) -> int | None:
    """Minutes left of a lockout of ``username`` from this address that this process refused less than
    ``CARTERA_LOGIN_LOCKOUT_RECHECK_SECONDS`` ago; None if it must ask the database again."""
    key = (username, client_ip(request))
    entry = _recent_lockouts.get(key)
    if entry is None:
        return None
    recheck, end = entry
    if time.monotonic() >= recheck or timezone.now() >= end:
        _recent_lockouts.pop(key, None)  # another thread of a threaded server may have done it already
        return None
    return minutes_until(end)


def forget_recent_lockouts() -> None:
    """Forget every lockout this process noted: the next tries ask the database (tests start clean)."""
    _recent_lockouts.clear()
