from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PipelineConfig(AppConfig):
    """Opportunities, pipelines and their stages, the board and the bottleneck report."""

    name = "cartera.pipeline"
    label = "pipeline"
    verbose_name = _("Pipeline")

    def ready(self) -> None:
        from cartera.core import hooks
        from cartera.pipeline import conditions
        from cartera.pipeline.listfit import import_rows_fit
        from cartera.pipeline.tasks import prospect_fit_schedule

        hooks.register("prospect_fit_refresh", prospect_fit_schedule)
        hooks.register("import_rows_fit", import_rows_fit)
        conditions.register()
