"""The page "How good are these predictions?". Each view parses input, calls a selector or a task, renders."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cartera.insights import selectors, tasks


def backtest(request: HttpRequest) -> HttpResponse:
    """The latest backtest: models compared, the shown probability's calibration, statuses' return rates."""
    context = selectors.backtest_page(user=request.user)
    if not context["can_view"]:
        raise Http404
    return render(request, "insights/backtest.html", context)


@require_POST
def backtest_queue(request: HttpRequest) -> HttpResponse:
    """Queue a new backtest in the worker (at most one waits at a time)."""
    if not selectors.backtest_page(user=request.user)["can_view"]:
        raise Http404
    tasks.queue_backtest(trigger=f"user {request.user.pk}")
    messages.success(request, _("The predictions will be checked again in the background in a few minutes."))
    return redirect("insights:backtest")
