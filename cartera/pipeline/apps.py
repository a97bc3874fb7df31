from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PipelineConfig(AppConfig):
    """Opportunities, pipelines and their stages, the board and the bottleneck report."""

    name = "cartera.pipeline"
    label = "pipeline"
    verbose_name = _("Pipeline")
