"""The REST API: one django-ninja ``NinjaAPI`` under ``/api/``, with the routers of each domain app.

OpenAPI document at ``/api/openapi.json``, interactive docs at ``/api/docs``. Errors are JSON in
django-ninja's own shapes: ``{"detail": "..."}`` for 401/403/404/413 and
``{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}`` for 422, whether the request failed
the schema (ninja) or the business rules (our services' ``ValidationError``).
"""

from html import unescape
from typing import Any

from django.conf import settings
from django.core.exceptions import (
    NON_FIELD_ERRORS,
    ImproperlyConfigured,
    PermissionDenied,
    RequestDataTooBig,
    ValidationError,
)
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.html import strip_tags
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Swagger
from ninja.errors import AuthenticationError
from ninja.operation import Operation
from ninja.security import django_auth

from cartera.accounts.api import TokenAuth
from cartera.accounts.api import router as account_router
from cartera.activity.api import interaction_router, task_router
from cartera.core.api_common import UnknownReference
from cartera.customers.api import company_router, customer_router, tag_router
from cartera.customers.services import DuplicateCustomerError
from cartera.privacy.api import privacy_router
from cartera.sales.api import order_router
from cartera.segments.api import segment_router

# Where the fields of a JSON body are reported, as django-ninja does for its own schema errors
# (every write endpoint names its body ``payload``).
BODY_LOC = ["body", "payload"]


class LocalSwagger(Swagger):
    """Swagger UI from the files django-ninja ships (``ninja/static``), served by the app itself.

    django-ninja falls back to a CDN and an inline script when ``"ninja"`` is not an installed app;
    both break our CSP and our no-CDN rule, so that fallback is refused here rather than served.
    """

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        if "ninja" not in settings.INSTALLED_APPS:
            raise ImproperlyConfigured(
                'The API docs need "ninja" in INSTALLED_APPS to serve Swagger UI locally (not from a CDN).'
            )
        return super().render_page(request, api, **kwargs)


class CarteraAPI(NinjaAPI):
    def get_openapi_operation_id(self, operation: Operation) -> str:
        # ``list_customers`` rather than ``cartera_customers_api_list_customers``; names are unique.
        return operation.view_func.__name__


api = CarteraAPI(
    title="Cartera API",
    version="1",
    urls_namespace="api",
    description=(
        "The customer portfolio: customers, companies, interactions, tasks and orders. "
        "Authenticate with `Authorization: Bearer <token>` (create one with `cartera token create`). "
        "See docs/api.md."
    ),
    # Bearer tokens for programs; the browser session (with its CSRF token) for the docs page.
    auth=[TokenAuth(), django_auth],
    # Swagger UI from the app's own static files (django-ninja ships them), never from a CDN.
    docs=LocalSwagger(),
)

api.add_router("/", account_router)
api.add_router("/customers", customer_router)
api.add_router("/companies", company_router)
api.add_router("/tags", tag_router)
api.add_router("/interactions", interaction_router)
api.add_router("/tasks", task_router)
api.add_router("/orders", order_router)
api.add_router("/segments", segment_router)
api.add_router("/", privacy_router)


def _plain(message: Any) -> str:
    """Service messages may hold HTML (a link to a duplicate); JSON clients get the text."""
    return unescape(strip_tags(str(message)))


@api.exception_handler(ValidationError)
def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    """A service refused the data: 422 with one entry per field message, like ninja's own."""
    detail: list[dict[str, Any]] = []
    by_field = exc.error_dict if hasattr(exc, "error_dict") else {NON_FIELD_ERRORS: exc.error_list}
    for field, errors in by_field.items():
        loc = BODY_LOC if field == NON_FIELD_ERRORS else [*BODY_LOC, field]
        for error in errors:
            for message in error.messages:
                item: dict[str, Any] = {"loc": loc, "msg": _plain(message), "type": error.code or "invalid"}
                if isinstance(exc, DuplicateCustomerError) and field == "email":
                    item["existing_id"] = exc.existing.pk
                detail.append(item)
    return api.create_response(request, {"detail": detail}, status=422)


@api.exception_handler(UnknownReference)
def on_unknown_reference(request: HttpRequest, exc: UnknownReference) -> HttpResponse:
    detail = [{"loc": [*BODY_LOC, exc.field], "msg": exc.message, "type": "unknown_reference"}]
    return api.create_response(request, {"detail": detail}, status=422)


@api.exception_handler(PermissionDenied)
def on_permission_denied(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    message = str(exc) or _("You do not have permission to do this.")
    return api.create_response(request, {"detail": message}, status=403)


@api.exception_handler(Http404)
def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    # Never say more than "not found": whether a row exists outside the user's scope is a secret.
    return api.create_response(request, {"detail": _("Not found.")}, status=404)


@api.exception_handler(AuthenticationError)
def on_unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = api.create_response(request, {"detail": _("Authentication required.")}, status=401)
    response["WWW-Authenticate"] = 'Bearer realm="cartera"'
    return response


@api.exception_handler(RequestDataTooBig)
def on_request_too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return api.create_response(request, {"detail": _("The request is too large.")}, status=413)
