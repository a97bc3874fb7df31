from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "cartera.accounts"
    verbose_name = _("Accounts")

    def ready(self) -> None:
        from cartera.accounts.roles import sync_roles_after_migrate

        # Permissions only exist once every app has migrated, so the role groups are brought in
        # line after each ``migrate`` rather than in a migration of their own.
        post_migrate.connect(sync_roles_after_migrate, dispatch_uid="cartera.accounts.sync_roles")
