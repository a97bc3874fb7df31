"""Messaging pages: the public unsubscribe page (no login; also the RFC 8058 one-click target) and,
in debug mode, what the local SMTP sink received."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from cartera.core.scoping import can
from cartera.messaging import selectors, services
from cartera.messaging.models import OutboxMessage


@csrf_exempt  # RFC 8058: the mail client POSTs "List-Unsubscribe=One-Click" with no cookie or token
@login_not_required
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """GET asks for confirmation (a link scanner opening the URL unsubscribes nobody); POST, from the
    page's button or the mail client's one-click, records the withdrawal. In the recipient's language."""
    message = services.message_for_token(token)
    if message is None:
        raise Http404
    with translation.override(message.language):
        if request.method == "POST":
            one_click = request.POST.get("List-Unsubscribe") == "One-Click"
            services.unsubscribe_record(message=message, how="one-click" if one_click else "page")
            response = render(request, "messaging/unsubscribe.html", {"message": message, "done": True})
        else:
            response = render(
                request,
                "messaging/unsubscribe.html",
                {"message": message, "done": message.unsubscribed_at is not None},
            )
        response["Content-Language"] = message.language
    response["X-Robots-Tag"] = "noindex"
    return response


def sink(request: HttpRequest) -> HttpResponse:
    """What the local SMTP sink received (debug mode only, for users who may see the outbox)."""
    if not settings.DEBUG or not can(request.user, OutboxMessage, "view"):
        raise Http404
    return render(request, "messaging/sink.html", {"messages_received": selectors.sink_messages()})
