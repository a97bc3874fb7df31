"""Login throttling (django-axes): where a login attempt comes from, and how long a lockout has left.

django-axes counts failed logins per username and client address (``AXES_*`` in settings) for every
login that goes through ``django.contrib.auth.authenticate`` with a request: the app's login page and
the Django admin's. The REST API takes no passwords at all (only personal tokens and the browser
session that the login page created), so it is no way around the lockout.
"""

from __future__ import annotations

import math
from datetime import timedelta

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


def lockout_minutes_left(request: HttpRequest, username: str) -> int:
    """Whole minutes (at least 1) until ``username`` may try again from this request's address."""
    cool_off = get_cool_off(request) or timedelta(0)
    ip_address = getattr(request, "axes_ip_address", None) or get_client_ip_address(request)
    last = (
        AccessAttempt.objects.filter(username=username, ip_address=ip_address)
        .order_by("-attempt_time")
        .values_list("attempt_time", flat=True)
        .first()
    )
    remaining = cool_off if last is None else last + cool_off - timezone.now()
    return max(1, math.ceil(remaining.total_seconds() / 60))
