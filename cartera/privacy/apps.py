from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrivacyConfig(AppConfig):
    name = "cartera.privacy"
    verbose_name = _("Privacy")

    def ready(self) -> None:
        from cartera.core import hooks
        from cartera.privacy.selectors import suppressed_among
        from cartera.privacy.services import audit_from_hook, customer_changed

        hooks.register("customer_changed", customer_changed)
        hooks.register("audited", audit_from_hook)
        hooks.register("suppressed_emails", suppressed_among)
