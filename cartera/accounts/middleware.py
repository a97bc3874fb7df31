"""Login middleware: a repeated try while locked out answered at once; two-factor sign-in (a password
alone opens nothing for users who have, or must have, a second factor)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponseBase, HttpResponseRedirect
from django.urls import reverse
from django.utils.functional import cached_property

from cartera.accounts import throttling
from cartera.accounts.selectors import confirmed_totp_device, needs_second_factor
from cartera.accounts.views import login_locked_out_brief


class RecentLockoutMiddleware:
    """Refuse a login try for a username this process refused as locked out from the same address a
    few seconds ago, before sessions, CSRF, authentication and the site's layout.

    A password guesser sends its next try as soon as one is answered; each full refusal cost a worker
    ~6 ms of CPU and two queries, taken from the people at work (issue 16's load benchmark: ten
    guessers). The first refusal goes the whole way (django-axes checks the database and
    ``login_locked_out`` notes it); for ``CARTERA_LOGIN_LOCKOUT_RECHECK_SECONDS`` after it, tries for
    that username from that address get the same message from here. A lockout cleared by an
    administrator (``axes_reset``) is therefore seen within that many seconds, not at once.
    """

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    @cached_property
    def login_paths(self) -> frozenset[str]:
        return frozenset({reverse("accounts:login"), reverse("admin:login")})

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.method == "POST" and request.path_info in self.login_paths:
            username = str(request.POST.get("username", ""))
            minutes = throttling.recent_lockout_minutes(request, username) if username else None
            if minutes is not None:
                return login_locked_out_brief(request, minutes)
        response: HttpResponseBase = self.get_response(request)
        return response


class TwoFactorMiddleware:
    """After the password, send the user to enter their code (or, for an admin without an
    authenticator, to set one up) before any other page; the API sees such a session as anonymous.

    Runs after django-otp's ``OTPMiddleware``, which tells whether this session has been verified.
    """

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if needs_second_factor(request.user):
            if request.path_info.startswith("/api/"):
                request.user = AnonymousUser()
            else:
                target = self._target(request)
                if target is not None:
                    return target
        response: HttpResponseBase = self.get_response(request)
        return response

    def _target(self, request: HttpRequest) -> HttpResponseRedirect | None:
        # With an authenticator, only its code will do: setting up a new one is no way around it.
        if confirmed_totp_device(request.user) is not None:
            page = reverse("accounts:two_factor_verify")
        else:
            page = reverse("accounts:two_factor")
        if request.path_info in {page, reverse("accounts:logout"), reverse("set_language")}:
            return None
        return HttpResponseRedirect(f"{page}?{urlencode({'next': request.get_full_path()})}")
