"""URL map: the web UI, the REST API under /api/, Django admin under /admin/."""

from django.contrib import admin
from django.urls import include, path

from cartera.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("accounts/", include("cartera.accounts.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("customers/", include("cartera.customers.urls")),
    path("activity/", include("cartera.activity.urls")),
    path("sales/", include("cartera.sales.urls")),
    path("", include("cartera.web.urls")),
]
