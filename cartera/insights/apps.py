from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class InsightsConfig(AppConfig):
    name = "cartera.insights"
    verbose_name = _("Insights")

    def ready(self) -> None:
        from cartera.core import hooks
        from cartera.insights.tasks import schedule_refresh

        hooks.register("portfolio_changed", schedule_refresh)
