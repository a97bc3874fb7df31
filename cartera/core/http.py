"""Request helpers shared by the views: request typing and where a form may send the user next."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.middleware import HtmxDetails


class HtmxHttpRequest(HttpRequest):
    """A request that went through django-htmx's middleware (``request.htmx`` is always set)."""

    htmx: HtmxDetails


def redirect_to_next(request: HttpRequest, default: str, *args: Any, **kwargs: Any) -> HttpResponse:
    """Redirect to the request's ``next`` (POST, else GET) when it is one of this site's own URLs.

    Every view that honours ``next`` goes through here: anything else (another site, ``//host``,
    ``javascript:``) is ignored in favour of ``default`` (a URL name or path, with its arguments), so
    the site cannot be used to bounce people to a phishing page.
    """
    wanted = safe_next(request)
    if wanted:
        return HttpResponseRedirect(wanted)
    response: HttpResponse = redirect(default, *args, **kwargs)
    return response


def safe_next(request: HttpRequest) -> str:
    """The request's ``next`` (POST, else GET) if it is one of this site's own URLs, else ``""``.

    For a page that carries ``next`` on to its form (a hidden field), so it never carries another.
    """
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    if wanted and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return ""
