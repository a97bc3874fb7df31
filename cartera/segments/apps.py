from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SegmentsConfig(AppConfig):
    name = "cartera.segments"
    verbose_name = _("Segments and personas")

    def ready(self) -> None:
        from cartera.core import hooks
        from cartera.segments.services import figures_refresh

        hooks.register("metrics_refreshed", figures_refresh)
