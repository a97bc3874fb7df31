"""Privacy pages: consent and lawful basis on the customer page, the access export, erasure, the audit
log and the records of processing. Each view parses input, calls one service or selector, renders."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cartera.core.concurrency import StaleEditError
from cartera.core.pagination import paginate
from cartera.core.scoping import get_for_user, require
from cartera.customers.models import Customer
from cartera.privacy import selectors, services
from cartera.privacy.forms import AuditFilterForm, ConsentForm, EraseForm, PrivacyProfileForm
from cartera.privacy.models import ConsentEvent

AUDIT_PAGE_SIZE = 100


def _errors(form_errors: object) -> str:
    return " ".join(str(m) for messages_ in form_errors.values() for m in messages_)  # type: ignore[attr-defined]


@require_POST
def consent_create(request: HttpRequest, pk: int) -> HttpResponse:
    """Record a grant (needs the right to change the customer) or a withdrawal (anyone who sees them)."""
    require(request.user, ConsentEvent, "add")
    form = ConsentForm(request.POST)
    granted = request.POST.get("granted") == "1"
    customer = get_for_user(Customer.objects.all(), request.user, "change" if granted else "view", pk=pk)
    if form.is_valid():
        try:
            services.consent_record(
                actor=request.user,  # type: ignore[arg-type]
                customer=customer,
                source=form.cleaned_data["source"],
                channel=form.cleaned_data["channel"],
                purpose=form.cleaned_data["purpose"],
                granted=form.cleaned_data["granted"],
                wording=form.cleaned_data["wording"],
                version=form.cleaned_data["version"],
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Consent recorded."))
    else:
        messages.error(request, _errors(form.errors))
    return redirect("customers:detail", pk=customer.pk)


@require_POST
def profile_update(request: HttpRequest, pk: int) -> HttpResponse:
    customer = get_for_user(Customer.objects.all(), request.user, "change", pk=pk)
    form = PrivacyProfileForm(request.POST)
    if form.is_valid():
        fields = {k: v for k, v in form.cleaned_data.items() if k != "version"}
        fields["expected_version"] = form.cleaned_data["version"] or None
        try:
            services.privacy_profile_update(actor=request.user, customer=customer, **fields)  # type: ignore[arg-type]
        except StaleEditError as exc:
            stored = exc.current
            saved = f"{stored.get_lawful_basis_display()} — {stored.basis_note or _('(empty)')}"  # type: ignore[attr-defined]
            messages.error(request, f"{exc.message} {_('Saved meanwhile: %(value)s') % {'value': saved}}")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Lawful basis saved."))
    else:
        messages.error(request, _errors(form.errors))
    return redirect("customers:detail", pk=customer.pk)


def personal_data_download(request: HttpRequest, pk: int, fmt: str) -> HttpResponse:
    """Everything held about the person (Art. 15), as JSON or a readable HTML document; logged."""
    customer = get_for_user(Customer.objects.all(), request.user, "view", pk=pk)
    if fmt not in ("json", "html"):
        raise Http404
    export = services.personal_data_export(
        actor=request.user,  # type: ignore[arg-type]
        customer=customer,
        language=get_language() or "",
    )
    if fmt == "json":
        response = HttpResponse(export.json, content_type="application/json; charset=utf-8")
    else:
        response = HttpResponse(export.html, content_type="text/html; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="personal-data-{customer.pk}.{fmt}"'
    response["Cache-Control"] = "no-store"
    return response


def erase(request: HttpRequest, pk: int) -> HttpResponse:
    """Confirm and carry out the erasure (managers and admins, typed confirmation)."""
    customer = get_for_user(Customer.objects.all(), request.user, "view", pk=pk)
    if not request.user.has_perm(services.ERASE_PERMISSION):
        raise PermissionDenied
    form = EraseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.customer_erase(
                actor=request.user,  # type: ignore[arg-type]
                customer=customer,
                confirmation=form.cleaned_data["confirmation"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("The person's data was erased; their orders stay, anonymous."))
            return redirect("customers:detail", pk=customer.pk)
    context = {
        "customer": customer,
        "form": form,
        "confirmation": services.erase_confirmation(customer),
        "profile": selectors.privacy_profile(customer=customer),
    }
    return render(request, "privacy/erase.html", context, status=422 if form.errors else 200)


def audit_log(request: HttpRequest) -> HttpResponseBase:
    if not request.user.has_perm(selectors.AUDIT_PERMISSION):
        raise PermissionDenied
    form = AuditFilterForm(request.GET or None)
    qs = selectors.audit_list(user=request.user, filters=form.filters())
    if request.GET.get("format") == "csv":
        return _audit_csv(qs)
    page = paginate(
        qs, ordering=("-at", "-id"), cursor=request.GET.get("cursor"), size=AUDIT_PAGE_SIZE,
        backwards=request.GET.get("dir") == "prev",
    )  # fmt: skip
    query = request.GET.copy()
    for key in ("cursor", "dir", "format"):
        query.pop(key, None)
    return render(
        request, "privacy/audit.html", {"form": form, "page": page, "base_query": query.urlencode()}
    )


class _Echo:
    def write(self, value: str) -> str:
        return value


def _safe(value: object) -> str:
    """A cell a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _audit_csv(qs: object) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def rows() -> Iterator[str]:
        yield writer.writerow([_("When"), _("Who"), _("Action"), _("Record type"), _("Record id"),
                               _("Record"), _("Before and after"), _("Detail")])  # fmt: skip
        for e in qs.iterator(chunk_size=2000):  # type: ignore[attr-defined]
            yield writer.writerow(
                [_safe(v) for v in (e.at.isoformat(), e.actor_name, e.get_action_display(), e.target_type,
                                    e.target_id, e.target_label, e.changes or "", e.detail or "")]
            )  # fmt: skip

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="audit-log.csv"'
    response["Cache-Control"] = "no-store"
    return response


def records(request: HttpRequest) -> HttpResponse:
    """The records of processing (Art. 30), generated from the configuration in force."""
    require(request.user, Customer, "view")
    return render(request, "privacy/records.html", {"records": selectors.records_of_processing()})
