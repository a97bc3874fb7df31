"""The user's own account: API tokens, the login lockout page (login and password pages are Django's)."""

from __future__ import annotations

from base64 import b32encode
from typing import Any

import segno
from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_client_username
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from cartera.accounts import selectors, services, throttling
from cartera.accounts.forms import ApiTokenForm, TotpCodeForm
from cartera.core.http import redirect_to_next, safe_next


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


class LoginView(auth_views.LoginView):
    """Django's login page, which answers a username already locked out from this address at once.

    Without this, a locked-out try still ran the login form, django-axes' refusal inside
    ``authenticate`` and a render of the login page that the lockout page then replaced: a password
    guesser that keeps going (the load benchmark's ten attackers, issue 16) cost every worker that
    ~6 ms of CPU per try. The answer is the same lockout page, from the same check django-axes makes
    (its handler's ``is_locked`` for this username and address); a try while locked out never
    extended the lockout (``AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT`` is off), so nothing
    is lost by not counting it.
    """

    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        credentials = {"username": str(request.POST.get("username", ""))}
        if credentials["username"] and AxesProxyHandler.is_locked(request, credentials):
            return login_locked_out(request, credentials=credentials)
        return super().post(request, *args, **kwargs)


def login_locked_out(
    request: HttpRequest,
    original_response: HttpResponse | None = None,
    credentials: dict[str, Any] | None = None,
) -> HttpResponse:
    """django-axes' lockout answer: the login page again, saying for how long logging in is refused."""
    username = get_client_username(request, credentials) or ""
    end = throttling.lockout_end(request, username)
    throttling.remember_lockout(request, username, end)
    return render(
        request,
        "accounts/locked_out.html",
        {"message": _lockout_message(throttling.minutes_until(end)), "login_url": request.path},
        status=429,
    )


def _lockout_message(minutes: int) -> str:
    return ngettext(
        "Too many failed attempts. Try again in %(minutes)d minute.",
        "Too many failed attempts. Try again in %(minutes)d minutes.",
        minutes,
    ) % {"minutes": minutes}


# The brief lockout page's own security headers: it is answered before the middleware that adds them.
BRIEF_LOCKOUT_CSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"


def login_locked_out_brief(request: HttpRequest, minutes: int) -> HttpResponse:
    """The lockout page for a repeated try (``RecentLockoutMiddleware``): same message, in the
    visitor's language, without the site's layout, session or database."""
    language = translation.get_language_from_request(request)
    with translation.override(language):
        page = render_to_string(
            "accounts/locked_out_brief.html",
            {"message": _lockout_message(minutes), "login_url": request.path, "language": language},
        )
    response = HttpResponse(page, status=429)
    response["Content-Language"] = language
    response["Retry-After"] = str(minutes * 60)
    response["Cache-Control"] = "no-store"
    response["Content-Security-Policy"] = BRIEF_LOCKOUT_CSP
    response["X-Frame-Options"] = "DENY"
    return response


def two_factor(request: HttpRequest) -> HttpResponse:
    """Turn two-factor sign-in on (scan, then confirm a code) or off (with a code)."""
    user = request.user
    device = selectors.confirmed_totp_device(user)
    form = TotpCodeForm(request.POST or None)
    if device is not None:
        new_codes: list[str] = []
        if request.method == "POST" and request.POST.get("action") == "backup_codes":
            new_codes = services.backup_codes_generate(user=user)  # type: ignore[arg-type]
            form = TotpCodeForm()
        elif request.method == "POST" and form.is_valid():
            if services.totp_device_remove(user=user, code=form.cleaned_data["code"]):  # type: ignore[arg-type]
                messages.success(request, _("Two-factor sign-in is off."))
                return redirect("accounts:two_factor")
            form.add_error("code", _("That code is not right (or came too soon after a wrong one)."))
        return _enabled_page(request, form, new_codes)

    pending = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if pending is None or request.method == "GET":
        pending = services.totp_device_start(user=user)  # type: ignore[arg-type]
    if request.method == "POST" and form.is_valid():
        if services.totp_device_confirm(user=user, device=pending, code=form.cleaned_data["code"]):  # type: ignore[arg-type]
            otp_login(request, pending)
            messages.success(request, _("Two-factor sign-in is on."))
            # The backup codes come with it, shown this once, for the day the phone is lost.
            codes = services.backup_codes_generate(user=user)  # type: ignore[arg-type]
            return _enabled_page(request, TotpCodeForm(), codes, next_url=safe_next(request))
        form.add_error("code", _("That code is not right (or came too soon after a wrong one)."))
    context = {
        "enabled": False,
        "form": form,
        "required": user.two_factor_required,  # type: ignore[union-attr]
        "qr_svg": mark_safe(segno.make(pending.config_url).svg_inline(scale=4)),  # noqa: S308 (segno's own SVG)
        "secret": b32encode(pending.bin_key).decode(),
        "next": safe_next(request),
    }
    return render(request, "accounts/two_factor.html", context)


def _enabled_page(
    request: HttpRequest, form: TotpCodeForm, new_codes: list[str], next_url: str = ""
) -> HttpResponse:
    """The two-factor page of a user who has it on; ``new_codes`` are backup codes shown this once."""
    context = {
        "enabled": True,
        "form": form,
        "new_codes": new_codes,
        "codes_left": selectors.backup_codes_left(request.user),
        "next": next_url,
    }
    return render(request, "accounts/two_factor.html", context)


def two_factor_verify(request: HttpRequest) -> HttpResponse:
    """After the password: the code from the authenticator app, or one of the backup codes."""
    device = selectors.confirmed_totp_device(request.user)
    if device is None or request.user.is_verified():  # type: ignore[union-attr]
        return redirect_to_next(request, "web:home")
    form = TotpCodeForm(request.POST or None)
    form.fields["code"].help_text = _("Lost your phone? Enter one of your backup codes instead.")
    if request.method == "POST" and form.is_valid():
        used = services.second_factor_verify(user=request.user, code=form.cleaned_data["code"])  # type: ignore[arg-type]
        if used is not None:
            otp_login(request, used)
            if used.pk != device.pk or type(used) is not type(device):
                left = selectors.backup_codes_left(request.user)
                messages.warning(
                    request,
                    ngettext(
                        "You signed in with a backup code; %(left)d is left. Make new ones on the two-factor page.",
                        "You signed in with a backup code; %(left)d are left. Make new ones on the two-factor page.",
                        left,
                    )
                    % {"left": left},
                )
            return redirect_to_next(request, "web:home")
        form.add_error("code", _("That code is not right (or came too soon after a wrong one)."))
    return render(request, "accounts/two_factor_verify.html", {"form": form, "next": safe_next(request)})
