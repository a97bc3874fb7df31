"""Named hooks: the one documented place where a lower app sets off work that a higher app owns.

Apps import only downwards (core → accounts → customers → activity, sales → insights → segments →
imports → web, demo; checked by import-linter). Sometimes a lower app must still start something
that belongs higher up: a new order must schedule a refresh of the analysis, which lives in
``insights``. Instead of importing upwards (even inside a function), the lower app *fires* a hook
declared here, and the higher app *registers* its handler in its ``AppConfig.ready()``.

Every hook is listed in :data:`HOOKS` with what it passes and who answers it, so the whole list of
"upward" effects is readable in one screen. Firing an unknown name or registering twice is a bug and
raises at once. A hook with no handler does nothing (an app can be left out of ``INSTALLED_APPS``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

HOOKS: dict[str, str] = {
    "portfolio_changed": (
        "Orders or customers changed in a way that moves the analysis (order recorded, import finished, "
        "customers merged). Keyword: trigger (str). Registered by insights: queue a refresh once the "
        "transaction commits."
    ),
    "metrics_refreshed": (
        "A refresh has just written the metrics. Keywords: snapshot, orders, metrics (or None). "
        "Registered by segments: precompute the Pareto, RFM and dashboard figures."
    ),
    "customers_merged": (
        "Two customers were merged. Keywords: actor, keep (Customer), summary (str). "
        "Registered by activity: write the merge as a note in the kept customer's timeline."
    ),
    "customer_changed": (
        "A customer was created or edited. Keywords: actor, customer, before, after (dicts of the changed "
        "fields, JSON-ready; before is empty on creation). Registered by privacy: write the audit log and, "
        "when a consent flag changed, the consent ledger."
    ),
    "audited": (
        "Something worth an audit-log line happened in a lower app (merge, import, rollback...). Keywords: "
        "actor, action (str, one of privacy.models.AuditAction), target_type (str), target_id (int or "
        "None), label (str), detail (dict). Registered by privacy: append it to the audit log."
    ),
}

HOOKS["tasks_assigned"] = (
    "Tasks were given to someone other than the person who made or changed them (one call per action, "
    "a bulk action included). Keywords: actor (User), tasks (list of activity.Task). For the outbox "
    "(messaging.services.tasks_assigned_email) to tell each assignee by e-mail, one message per assignee; the app's own notice is "
    "the badge of new tasks (Task.seen_at)."
)

HOOKS["suppressed_emails"] = (
    "Which of these e-mail addresses belong to people who were erased or objected (the import must not "
    "bring them back). Keyword: emails (list of str). Returns a set of those addresses. Registered by "
    "privacy: privacy.selectors.suppressed_among."
)

HOOKS["analysis_refreshed"] = (
    "A refresh has finished and the figures are written (after metrics_refreshed). Keyword: snapshot "
    "(or None). Registered by surveys: invite the customers whose situation matches an automatic "
    "survey's trigger (orders declining, at risk, lapsed, days after an order, periodic); and mark the "
    "results the worker counted for surveys with many answers as wanted again (statuses changed)."
)

HOOKS["email_queue"] = (
    "A lower app (activity: a task notification) wants an e-mail sent. Keywords: those of "
    "messaging.services.message_queue (purpose, subject, text, language, to_customer or to_address...). "
    "Returns the outbox row. Registered by messaging: messaging.services.message_queue_from_hook."
)

HOOKS["prospect_fit_refresh"] = (
    "A refresh has finished (after analysis_refreshed). Keyword: snapshot (or None). Registered by "
    "pipeline: queue the worker's scoring of the suspects and prospects against the customers who bring "
    "the most revenue (pipeline.tasks.score_prospects, which runs pipeline.services.prospect_fit_refresh "
    "after the refresh commits, outside its lock and its time)."
)

HOOKS["import_rows_fit"] = (
    "The dry run of a customer file has read its rows. Keywords: columns (dict: 'sector', 'region', "
    "'source' -> list of str, 'birth_date' -> list of date or None, one item per row), numbers (the rows' "
    "numbers in the file). Returns the file's fit distribution, JSON-ready (bands, top rows with "
    "reasons), or None. Registered by pipeline: score the rows with the fit model learnt from the "
    "portfolio (pipeline.listfit.import_rows_fit)."
)

_handlers: dict[str, Callable[..., Any]] = {}


def register(name: str, handler: Callable[..., Any]) -> None:
    """Make ``handler`` answer the hook ``name`` (called once, from the owning app's ``ready()``)."""
    if name not in HOOKS:
        raise KeyError(f"unknown hook {name!r}; declare it in cartera.core.hooks.HOOKS")
    current = _handlers.get(name)
    if current is not None and current is not handler:
        raise RuntimeError(f"hook {name!r} already answered by {current!r}")
    _handlers[name] = handler


def fire(name: str, **kwargs: Any) -> Any:
    """Call the handler registered for ``name`` with ``kwargs``; ``None`` when nobody registered it."""
    if name not in HOOKS:
        raise KeyError(f"unknown hook {name!r}; declare it in cartera.core.hooks.HOOKS")
    handler = _handlers.get(name)
    return None if handler is None else handler(**kwargs)
