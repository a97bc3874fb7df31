from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ActivityConfig(AppConfig):
    name = "cartera.activity"
    verbose_name = _("Activity")

    def ready(self) -> None:
        from cartera.activity.services import interaction_record_merge
        from cartera.core import hooks

        hooks.register("customers_merged", interaction_record_merge)
