"""The user's own account: API tokens, the login lockout page (login and password pages are Django's)."""

from __future__ import annotations

from typing import Any

from axes.helpers import get_client_username
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST

from cartera.accounts import services, throttling
from cartera.accounts.forms import ApiTokenForm


def api_tokens(request: HttpRequest) -> HttpResponse:
    form = ApiTokenForm(request.POST or None)
    new_key = None
    if request.method == "POST" and form.is_valid():
        _token, new_key = services.api_token_create(
            user=request.user,  # type: ignore[arg-type]
            name=form.cleaned_data["name"],
            scope=form.cleaned_data["scope"],
            days=form.cleaned_data["days"],
        )
        form = ApiTokenForm()
    tokens = request.user.api_tokens.select_related("user")  # type: ignore[union-attr]
    return render(request, "accounts/api_tokens.html", {"form": form, "tokens": tokens, "new_key": new_key})


@require_POST
def api_token_revoke(request: HttpRequest, pk: int) -> HttpResponse:
    services.api_token_revoke(user=request.user, token_id=pk)  # type: ignore[arg-type]
    return redirect("accounts:api_tokens")


def login_locked_out(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """django-axes' lockout answer: the login page again, saying for how long logging in is refused."""
    username = get_client_username(request, credentials) or ""
    minutes = throttling.lockout_minutes_left(request, username)
    message = ngettext(
        "Too many failed attempts. Try again in %(minutes)d minute.",
        "Too many failed attempts. Try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}
    return render(
        request,
        "accounts/locked_out.html",
        {"message": message, "login_url": request.path},
        status=429,
    )
