"""URL map: the web UI, the REST API under /api/, Django admin under /admin/."""

from typing import Any

from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.views.i18n import set_language

from cartera.activity import urls as activity_urls
from cartera.api import api
from cartera.customers import urls as customer_urls
from cartera.surveys.urls import public_urlpatterns as survey_public_urls
from cartera.web.urls import customer_page_routes


def _namespace(name: str, own: list[Any]) -> Any:
    """An app's routes plus the customer-page routes composed for it in web, under the app's namespace."""
    return include(([*own, *customer_page_routes[name]], name))


urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("accounts/", include("cartera.accounts.urls")),
    # The language switcher also works on the login page, before anyone is logged in.
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path("customers/", _namespace("customers", customer_urls.urlpatterns)),
    path("activity/", _namespace("activity", activity_urls.urlpatterns)),
    path("sales/", _namespace("sales", [])),
    path("insights/", include("cartera.insights.urls")),
    path("segments/", include("cartera.segments.urls")),
    path("data/", include("cartera.imports.urls")),
    path("privacy/", include("cartera.privacy.urls")),
    path("pipeline/", include("cartera.pipeline.urls")),
    path("surveys/", include("cartera.surveys.urls")),
    # The public survey answer page: no login, reached by a signed token (cartera/surveys/views/public.py).
    path("s/", include(survey_public_urls)),
    path("campaigns/", include("cartera.campaigns.urls")),
    path("", include("cartera.messaging.urls")),
    path("", include("cartera.web.urls")),
]
