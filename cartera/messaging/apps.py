from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MessagingConfig(AppConfig):
    name = "cartera.messaging"
    verbose_name = _("Messaging")

    def ready(self) -> None:
        from cartera.core import hooks
        from cartera.messaging.services import message_queue_from_hook, tasks_assigned_email

        hooks.register("email_queue", message_queue_from_hook)
        hooks.register("tasks_assigned", tasks_assigned_email)
