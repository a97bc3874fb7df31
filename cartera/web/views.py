"""The home page: what needs doing today and how the portfolio is doing (the dashboard)."""

from __future__ import annotations

from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from cartera.activity.selectors import task_list
from cartera.core.scoping import can, restrict
from cartera.customers.models import Customer, Stage
from cartera.segments.services import figures_current
from cartera.web.selectors import dashboard

# The home page lists this many of the tasks due today or overdue (the most overdue first) and says
# how many more there are: the whole list, with its forms, is "My tasks".
HOME_TASKS = 10


def home(request: HttpRequest) -> HttpResponse:
    end_of_today = timezone.localtime().replace(hour=23, minute=59, second=59)
    due_all = task_list(user=request.user, assignee=request.user).filter(due_at__lte=end_of_today)
    due = list(due_all[:HOME_TASKS])
    due_more = due_all.count() - len(due) if len(due) == HOME_TASKS else 0
    sees_customers = can(request.user, Customer, "view")
    figures = figures_current() if sees_customers else None
    if figures is not None and figures.stages:
        # Counted when the analysis last ran: a page view never counts the whole customer file.
        by_stage: dict[str, int] = figures.stages
    else:
        by_stage = dict(
            restrict(Customer.objects.all(), request.user, "view")
            .values_list("stage")
            .annotate(n=Count("id"))
            .values_list("stage", "n")
        )
    stages = [(value, label, by_stage.get(value, 0)) for value, label in Stage.choices]
    board = dashboard(user=request.user, figures=figures)
    return render(
        request,
        "web/home.html",
        {
            "due_tasks": due,
            "due_more": due_more,
            "figures": figures,
            "stages": stages,
            "now": timezone.now(),
            "board": board,
            "trend": board.months,
            "abc": board.abc,
            "cohorts": board.cohorts,
            # Orders in other currencies than the base one, left out of every figure (counted when
            # the figures were computed).
            "other_currencies": (figures.other_currencies or []) if figures is not None else [],
        },
    )


def glossary(request: HttpRequest) -> HttpResponse:
    """One line on each figure of the analysis (RFM, CLV, P(alive), ABC, value at risk...)."""
    return render(request, "web/glossary.html")
