from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def after_refresh(**kwargs: Any) -> dict[int, int]:
    """Answers the ``analysis_refreshed`` hook: run the automatic triggers on the fresh metrics, and
    mark the results the worker counted as wanted again (statuses changed). Returns the invitations
    sent per survey."""
    from cartera.surveys.services.figures import figures_wanted_after_refresh
    from cartera.surveys.services.triggers import triggers_run_after_refresh

    sent = triggers_run_after_refresh(**kwargs)
    figures_wanted_after_refresh(**kwargs)
    return sent


class SurveysConfig(AppConfig):
    name = "cartera.surveys"
    verbose_name = _("Surveys and service audits")

    def ready(self) -> None:
        from cartera.core import hooks
        from cartera.surveys import conditions

        hooks.register("analysis_refreshed", after_refresh)
        conditions.register()
