from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CampaignsConfig(AppConfig):
    name = "cartera.campaigns"
    verbose_name = _("Campaigns")

    def ready(self) -> None:
        from cartera.campaigns.selectors import register_segment_field

        register_segment_field()
