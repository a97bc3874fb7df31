"""Project middleware."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.middleware import LoginRequiredMiddleware as DjangoLoginRequiredMiddleware
from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import add_never_cache_headers


class LoginRequiredMiddleware(DjangoLoginRequiredMiddleware):
    """Django's login-required default, except for the REST API, which authenticates by token itself."""

    def process_view(self, request: HttpRequest, view_func: Any, view_args: Any, view_kwargs: Any) -> Any:
        if request.path_info.startswith("/api/"):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)


class NoStoreMiddleware:
    """``Cache-Control: no-store`` on everything a signed-in user gets and on every API answer.

    Pages, exports and API answers carry personal data (and the new-token page a secret): no browser
    cache, shared computer's back button or proxy may keep them. Static files never get here
    (WhiteNoise answers them earlier in the chain), so they stay cacheable.
    """

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response: HttpResponseBase = self.get_response(request)
        if request.path_info.startswith("/api/") or request.user.is_authenticated:
            add_never_cache_headers(response)
        return response
