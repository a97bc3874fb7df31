from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SurveysConfig(AppConfig):
    name = "cartera.surveys"
    verbose_name = _("Surveys and service audits")

    def ready(self) -> None:
        from cartera.core import hooks
        from cartera.surveys import conditions
        from cartera.surveys.services.triggers import triggers_run_after_refresh

        hooks.register("analysis_refreshed", triggers_run_after_refresh)
        conditions.register()
