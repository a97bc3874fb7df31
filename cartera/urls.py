"""URL map: the web UI, the REST API under /api/, Django admin under /admin/."""

from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.i18n import set_language

from cartera.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("accounts/", include("cartera.accounts.urls")),
    # The language switcher also works on the login page, before anyone is logged in.
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path("customers/", include("cartera.customers.urls")),
    path("activity/", include("cartera.activity.urls")),
    path("sales/", include("cartera.sales.urls")),
    path("segments/", include("cartera.segments.urls")),
    path("data/", include("cartera.imports.urls")),
    path("", include("cartera.web.urls")),
]
