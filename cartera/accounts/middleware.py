"""Two-factor sign-in: a password alone opens nothing for users who have (or must have) a second factor."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.models import AnonymousUser
from django.http import HttpRequest, HttpResponseBase, HttpResponseRedirect
from django.urls import reverse

from cartera.accounts.selectors import confirmed_totp_device, needs_second_factor


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
