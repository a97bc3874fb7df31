from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "cartera.core"
    verbose_name = _("Core")

    def ready(self) -> None:
        from django.db.models import fields

        from cartera.core import lookups

        lookups.register()

        # Django 6.1's empty choice label has no Spanish translation in Django itself; ours does.
        fields.BLANK_CHOICE_LABEL = _("- Select an option -")
