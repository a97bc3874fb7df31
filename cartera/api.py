"""The REST API: one django-ninja ``NinjaAPI`` under ``/api/``, with the routers of each domain app.

OpenAPI document at ``/api/openapi.json``, interactive docs at ``/api/docs``. Errors are JSON in
django-ninja's own shapes: ``{"detail": "..."}`` for 400/401/403/404/405/412/413/415 and
``{"detail": [{"loc": [...], "msg": "...", "type": "..."}]}`` for 422, whether the request failed
the schema (ninja) or the business rules (our services' ``ValidationError``).

Every answer under ``/api/`` is JSON, errors included: an unknown path is a JSON 404, a wrong
method a JSON 405, a body that is not JSON a 415, and an unexpected failure a JSON 500 (still
logged and mailed to the admins like any server error). What the database refuses after the
schemas let it through (a value out of its range) is a 422, as a last resort.
"""

import functools
import logging
from collections.abc import Callable
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
from django.core.signals import got_request_exception
from django.db import DataError
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, re_path
from django.utils.html import strip_tags
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from ninja import NinjaAPI, Swagger
from ninja.errors import AuthenticationError, HttpError
from ninja.operation import Operation
from ninja.security import django_auth

from cartera.accounts.api import TokenAuth
from cartera.accounts.api import router as account_router
from cartera.activity.api import interaction_router, task_router
from cartera.campaigns.api import campaign_router
from cartera.core.api_common import UnknownReference
from cartera.core.pagination import InvalidCursor
from cartera.customers.api import company_router, customer_router, duplicate_router, tag_router
from cartera.customers.services import DuplicateCustomerError
from cartera.imports.api import export_router
from cartera.insights.api import insights_router
from cartera.messaging.api import outbox_router
from cartera.pipeline.api import (
    call_list_router,
    lead_form_router,
    opportunity_router,
    pipeline_router,
    prospect_router,
)
from cartera.privacy.api import privacy_router
from cartera.sales.api import order_router
from cartera.segments.api import segment_router
from cartera.surveys.api import survey_router

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


logger = logging.getLogger("django.request")

# Methods whose body the API reads; it must be JSON.
BODY_METHODS = {"POST", "PUT", "PATCH"}


def _is_json(content_type: str) -> bool:
    return content_type == "application/json" or content_type.endswith("+json")


def _has_body(request: HttpRequest) -> bool:
    """Whether a body was sent, without reading it (its size is checked later, as a 413)."""
    if request.META.get("HTTP_TRANSFER_ENCODING"):
        return True
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0) > 0
    except ValueError:
        return True


class CarteraAPI(NinjaAPI):
    def get_openapi_operation_id(self, operation: Operation) -> str:
        # ``list_customers`` rather than ``cartera_customers_api_list_customers``; names are unique.
        return operation.view_func.__name__

    def _get_urls(self) -> list[URLResolver | URLPattern]:
        """ninja's routes, each answering errors in JSON, then a JSON 404 for any other path."""
        urls = super()._get_urls()
        for pattern in urls:
            if isinstance(pattern, URLPattern):
                pattern.callback = self._json_view(pattern.callback)
        urls.append(re_path(r"", csrf_exempt(self._unknown_path), name="unknown"))
        return urls

    def _json_view(self, view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        """``view``, refusing a body that is not JSON (415) and turning a non-JSON error into JSON."""

        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if (
                request.method in BODY_METHODS
                and _has_body(request)
                and not _is_json(request.content_type or "")
            ):
                detail = _("Send the body as JSON, with the header Content-Type: application/json.")
                return self.create_response(request, {"detail": detail}, status=415)
            response = view(request, *args, **kwargs)
            if response.status_code < 400 or _is_json(response.get("Content-Type", "").split(";")[0]):
                return response
            # ninja's own 405 is plain text: say it in JSON, keeping the Allow header.
            detail = _("Method not allowed.") if response.status_code == 405 else response.reason_phrase
            json_response = self.create_response(request, {"detail": detail}, status=response.status_code)
            for header in ("Allow", "WWW-Authenticate"):
                if header in response:
                    json_response[header] = response[header]
            return json_response

        return wrapper

    def _unknown_path(self, request: HttpRequest) -> HttpResponse:
        return self.create_response(request, {"detail": _("Not found.")}, status=404)


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
# The duplicate finder and merges: /customers/duplicates, /customers/merge-preview, /customers/merge...
api.add_router("/customers", duplicate_router)
api.add_router("/customers", customer_router)
api.add_router("/companies", company_router)
api.add_router("/tags", tag_router)
api.add_router("/interactions", interaction_router)
api.add_router("/tasks", task_router)
api.add_router("/orders", order_router)
api.add_router("/insights", insights_router)
api.add_router("/segments", segment_router)
api.add_router("/exports", export_router)
api.add_router("/", privacy_router)
api.add_router("/opportunities", opportunity_router)
api.add_router("/pipelines", pipeline_router)
api.add_router("/call-lists", call_list_router)
api.add_router("/lead-forms", lead_form_router)
api.add_router("/prospects", prospect_router)
api.add_router("/surveys", survey_router)
api.add_router("/outbox", outbox_router)
api.add_router("/campaigns", campaign_router)


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


@api.exception_handler(InvalidCursor)
def on_invalid_cursor(request: HttpRequest, exc: InvalidCursor) -> HttpResponse:
    """A cursor we did not issue (edited, truncated, made up, or from another sort order)."""
    detail = _(
        "This cursor is not valid: pass the next_cursor of the previous page, with the same sort order."
    )
    return api.create_response(request, {"detail": detail}, status=400)


@api.exception_handler(HttpError)
def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    detail = str(exc)
    if exc.status_code == 400 and detail.startswith("Cannot parse request body"):
        detail = _("The request body is not valid JSON.")
    return api.create_response(request, {"detail": detail}, status=exc.status_code)


def _where(request: HttpRequest) -> list[str]:
    return BODY_LOC if request.method in BODY_METHODS else ["query"]


@api.exception_handler(DataError)
@api.exception_handler(OverflowError)
@api.exception_handler(UnicodeError)
def on_unstorable_value(request: HttpRequest, exc: Exception) -> HttpResponse:
    """Last resort: the database (or the driver) refused a value the schemas let through.

    The schemas check what they can (see ``cartera.core.api_common.storable``); this keeps anything
    they miss a 422 rather than a 500. The transaction of the request was rolled back.
    """
    logger.warning("API value refused by the database on %s: %s", request.path, exc)
    detail = [
        {
            "loc": _where(request),
            "msg": _(
                "A value is out of the range the database can store, or holds a character it cannot "
                "store (such as a NUL). Nothing was saved."
            ),
            "type": "unstorable_value",
        }
    ]
    return api.create_response(request, {"detail": detail}, status=422)


@api.exception_handler(Exception)
def on_unexpected_error(request: HttpRequest, exc: Exception) -> HttpResponse:
    """A bug: logged and reported like any server error, but answered in JSON, not an HTML page."""
    got_request_exception.send(sender=None, request=request)
    logger.error(
        "Internal Server Error: %s",
        request.path,
        exc_info=exc,
        extra={"status_code": 500, "request": request},
    )
    return api.create_response(request, {"detail": _("Something went wrong on our side.")}, status=500)
