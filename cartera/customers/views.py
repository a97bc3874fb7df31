"""Customer and company pages. Each view parses input, calls one service or selector, renders."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from cartera.core.concurrency import StaleEditError
from cartera.core.http import HtmxHttpRequest
from cartera.core.pagination import capped_count, paginate
from cartera.core.scoping import can, get_for_user, require, restrict
from cartera.customers import selectors, services
from cartera.customers.forms import (
    CompanyForm,
    CustomerFilterForm,
    CustomerForm,
    CustomFieldForm,
    StageChangeForm,
)
from cartera.customers.models import Company, Customer, CustomField, Stage

PAGE_SIZE = 50
COUNT_CAP = 10_000


def customer_list(request: HtmxHttpRequest) -> HttpResponse:
    form = CustomerFilterForm(request.GET or None)
    filters = form.filters() if form.is_bound else selectors.CustomerFilters()
    ordering = form.ordering() if form.is_bound else selectors.CUSTOMER_SORTS["newest"]
    qs = selectors.customer_list(user=request.user, filters=filters)
    page = paginate(
        qs,
        ordering=ordering,
        cursor=request.GET.get("cursor"),
        size=PAGE_SIZE,
        backwards=request.GET.get("dir") == "prev",
    )
    total, more = capped_count(qs, COUNT_CAP)
    query = request.GET.copy()
    for key in ("cursor", "dir"):
        query.pop(key, None)
    context = {
        "form": form,
        "stage_form": StageChangeForm(prefix="move"),
        "can_change": can(request.user, Customer, "change"),
        "filter_items": [(k, v) for k, values in query.lists() for v in values if k in form.fields],
        "page": page,
        "total": total,
        "more_than_total": more,
        "base_query": query.urlencode(),
        "can_add": can(request.user, Customer, "add"),
    }
    template = (
        "customers/list.html#results"
        if request.htmx and request.htmx.target == "results"
        else "customers/list.html"
    )
    return render(request, template, context)


def customer_create(request: HttpRequest) -> HttpResponse:
    require(request.user, Customer, "add")
    form = CustomerForm(request.POST or None, user=request.user)  # type: ignore[arg-type]
    same_phone: list[Customer] = []
    phone = ""
    if request.method == "POST" and form.is_valid():
        phone = form.cleaned_data.get("phone") or ""
        same_phone = selectors.customers_with_phone(user=request.user, phone=phone)
        if same_phone and request.POST.get("phone_confirmed") != phone:
            links = format_html_join(
                ", ",
                '<a href="{}">{}</a>',
                ((reverse("customers:detail", args=[c.pk]), c.full_name) for c in same_phone),
            )
            form.add_error(
                "phone",
                format_html(
                    _("This phone already belongs to {}. Save again to create the customer anyway."), links
                ),
            )
    if request.method == "POST" and form.is_valid():
        try:
            customer = services.customer_create(
                actor=request.user,  # type: ignore[arg-type]
                fields=form.service_fields(),
                tags=services.tags_get_or_create(names=form.tag_list()),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Customer created."))
            return redirect("customers:detail", pk=customer.pk)
    context = {"form": form, "companies": _company_options(), "phone_confirm": phone if same_phone else ""}
    return render(request, "customers/form.html", context)


def customer_edit(request: HttpRequest, pk: int) -> HttpResponse:
    customer = get_for_user(Customer.objects.select_related("company"), request.user, "change", pk=pk)
    form = CustomerForm(request.POST or None, instance=customer, user=request.user)  # type: ignore[arg-type]
    if request.method == "POST" and form.is_valid():
        try:
            services.customer_update(
                actor=request.user,  # type: ignore[arg-type]
                customer=customer,
                fields=form.service_fields(),
                tags=services.tags_get_or_create(names=form.tag_list()),
                # A form without a version (an API-style post) is not checked; the page always sends one.
                expected_version=form.expected_version(),
            )
        except StaleEditError as exc:
            form.add_error(None, exc)
            form.show_stale_edit(exc.current)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("customers:detail", pk=customer.pk)
    return render(
        request, "customers/form.html", {"form": form, "customer": customer, "companies": _company_options()}
    )


@require_POST
def customer_stage_bulk(request: HttpRequest) -> HttpResponse:
    """Move every customer the list's filters show (that the user may change) to one stage."""
    require(request.user, Customer, "change")
    filters_form = CustomerFilterForm(request.POST)
    form = StageChangeForm(request.POST, prefix="move")
    back = redirect(f"{reverse('customers:list')}?{_filter_query(request)}")
    if not form.is_valid() or not filters_form.is_valid():
        messages.error(request, _("Choose the stage to move these customers to."))
        return back
    qs = selectors.customer_list(user=request.user, filters=filters_form.filters())
    moved = services.customers_stage_change_bulk(
        actor=request.user,  # type: ignore[arg-type]
        customers=qs,
        stage=form.cleaned_data["stage"],
        reason=form.cleaned_data["reason"],
    )
    messages.success(
        request,
        _("%(n)d customers moved to “%(stage)s”.")
        % {"n": moved, "stage": dict(Stage.choices)[form.cleaned_data["stage"]]},
    )
    return back


def _filter_query(request: HttpRequest) -> str:
    """The list filters a bulk form carried, to come back to the same list."""
    kept = request.POST.copy()
    for key in ("csrfmiddlewaretoken", "move-stage", "move-reason", "cursor", "dir"):
        kept.pop(key, None)
    return kept.urlencode()


@require_POST
def customer_delete(request: HttpRequest, pk: int) -> HttpResponse:
    customer = get_for_user(Customer.objects.all(), request.user, "delete", pk=pk)
    name = customer.full_name
    services.customer_delete(actor=request.user, customer=customer)  # type: ignore[arg-type]
    messages.success(request, _("%(name)s was deleted.") % {"name": name})
    return redirect("customers:list")


def _company_options() -> list[str]:
    return list(Company.objects.order_by("name").values_list("name", flat=True)[:300])


def company_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")
    qs = selectors.company_list(user=request.user, query=query)
    page = paginate(qs, ordering=("name_key", "id"), cursor=request.GET.get("cursor"), size=50,
                    backwards=request.GET.get("dir") == "prev")  # fmt: skip
    return render(
        request,
        "customers/company_list.html",
        {"page": page, "query": query, "can_add": can(request.user, Company, "add")},
    )


def company_detail(request: HttpRequest, pk: int) -> HttpResponse:
    company = get_for_user(Company.objects.all(), request.user, "view", pk=pk)
    contacts = selectors.customer_list(
        user=request.user, filters=selectors.CustomerFilters(company_id=company.pk)
    )
    return render(
        request,
        "customers/company_detail.html",
        {"company": company, "contacts": contacts.order_by("last_name_key", "id")[:200],
         # Per row: a sales rep may change some companies and not others.
         "can_change": restrict(Company.objects.filter(pk=company.pk), request.user, "change").exists()},
    )  # fmt: skip


def company_create(request: HttpRequest) -> HttpResponse:
    require(request.user, Company, "add")
    return _company_form(request, Company())


def company_edit(request: HttpRequest, pk: int) -> HttpResponse:
    company = get_for_user(Company.objects.all(), request.user, "change", pk=pk)
    return _company_form(request, company)


def _company_form(request: HttpRequest, company: Company) -> HttpResponse:
    form = CompanyForm(request.POST or None, instance=company)
    if request.method == "POST" and form.is_valid():
        try:
            fields = {k: v for k, v in form.cleaned_data.items() if k != "version"}
            if company.pk:
                services.company_update(
                    actor=request.user,  # type: ignore[arg-type]
                    company=company,
                    fields=fields,
                    expected_version=form.expected_version(),
                )
            else:
                company = services.company_create(actor=request.user, fields=fields)  # type: ignore[arg-type]
        except StaleEditError as exc:
            form.add_error(None, exc)
            form.show_stale_edit(exc.current)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Company saved."))
            return redirect("customers:company_detail", pk=company.pk)
    return render(request, "customers/company_form.html", {"form": form, "company": company})


def custom_field_list(request: HttpRequest) -> HttpResponse:
    """The admins' settings page of custom fields."""
    require(request.user, CustomField, "change")
    fields = selectors.custom_field_list(user=request.user)
    return render(request, "customers/custom_fields.html", {"fields": fields})


def custom_field_create(request: HttpRequest) -> HttpResponse:
    require(request.user, CustomField, "add")
    form = CustomFieldForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.custom_field_create(
                actor=request.user,  # type: ignore[arg-type]
                key=form.cleaned_data["key"],
                field_type=form.cleaned_data["field_type"],
                fields=form.settings(),
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Custom field added."))
            return redirect("customers:custom_fields")
    return render(request, "customers/custom_field_form.html", {"form": form})


def custom_field_edit(request: HttpRequest, pk: int) -> HttpResponse:
    field = get_for_user(CustomField.objects.all(), request.user, "change", pk=pk)
    form = CustomFieldForm(request.POST or None, instance=field)
    if request.method == "POST" and form.is_valid():
        try:
            services.custom_field_update(actor=request.user, field=field, fields=form.settings())  # type: ignore[arg-type]
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("Changes saved."))
            return redirect("customers:custom_fields")
    return render(request, "customers/custom_field_form.html", {"form": form, "field": field})


@require_POST
def custom_field_delete(request: HttpRequest, pk: int) -> HttpResponse:
    field = get_for_user(CustomField.objects.all(), request.user, "delete", pk=pk)
    label = field.label
    services.custom_field_delete(actor=request.user, field=field)  # type: ignore[arg-type]
    messages.success(request, _("%(name)s was deleted.") % {"name": label})
    return redirect("customers:custom_fields")


# --- duplicates and merges ----------------------------------------------------------------------------


def duplicates(request: HttpRequest) -> HttpResponse:
    """The stored possible duplicates the user may merge, most likely first (a sales rep: pairs of
    their own customers); POST looks for them again (managers: it reads the whole file)."""
    if not selectors.may_merge(request.user):
        raise PermissionDenied
    if request.method == "POST":
        if not can(request.user, Customer, "delete"):
            raise PermissionDenied
        if services.duplicate_search_start() == "queued":
            messages.info(
                request, _("Looking for duplicates in the background; reload this page in a minute.")
            )
        else:
            messages.success(request, _("The list of possible duplicates is up to date."))
        return redirect("customers:duplicates")
    context = {
        "pairs": selectors.customer_duplicate_candidates(user=request.user),
        "found_at": selectors.duplicates_found_at(),
        "merges": selectors.recent_merges(user=request.user),
        "can_search": can(request.user, Customer, "delete"),
    }
    return render(request, "customers/duplicates.html", context)


def _merge_pair(request: HttpRequest) -> tuple[Customer, Customer]:
    if not selectors.may_merge(request.user):
        raise PermissionDenied
    source = request.POST if request.method == "POST" else request.GET
    try:
        keep_id, remove_id = int(source["keep"]), int(source["remove"])
    except (KeyError, ValueError) as exc:
        raise Http404 from exc
    customers = Customer.objects.select_related("company", "owner")
    keep = get_for_user(customers, request.user, "view", pk=keep_id)
    remove = get_for_user(customers, request.user, "view", pk=remove_id)
    if keep.pk == remove.pk:
        raise Http404
    # The API's rule: both records in the user's merge scope (a rep: both theirs), else 403.
    if selectors.merge_scope(request.user).filter(pk__in=[keep.pk, remove.pk]).count() != 2:
        raise PermissionDenied
    return keep, remove


def merge(request: HttpRequest) -> HttpResponse:
    """The merge screen: both records side by side, a choice per differing field; POST merges."""
    keep, remove = _merge_pair(request)
    if request.method == "GET" and request.GET.get("order") != "as_given":
        keep, remove = services.merge_order(keep, remove)
    error = ""
    if request.method == "POST":
        choices = {name: request.POST[name] for name in services.MERGE_FIELDS if name in request.POST}
        try:
            record = services.customer_merge(
                actor=request.user,  # type: ignore[arg-type]
                keep=keep,
                remove=remove,
                choices=choices,
            )
        except ValidationError as exc:
            error = exc.messages[0]
        else:
            messages.success(request, _("The two records were merged."))
            return redirect("customers:merge_detail", pk=record.pk)
    context = {
        "keep": keep,
        "remove": remove,
        "rows": selectors.merge_preview(keep=keep, remove=remove),
        "moving": selectors.merge_moving_counts(customer=remove),
        "error": error,
    }
    return render(request, "customers/merge.html", context)


def merge_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """A merge done: what it kept, and the button that undoes it."""
    record = selectors.customer_merge_detail(user=request.user, pk=pk)
    if request.method == "POST":
        try:
            restored = services.customer_merge_undo(actor=request.user, merge=record)  # type: ignore[arg-type]
        except ValidationError as exc:
            messages.error(request, exc.messages[0])
            return redirect("customers:merge_detail", pk=record.pk)
        messages.success(request, _("The merge was undone: both records are back."))
        return redirect("customers:detail", pk=restored.pk)
    return render(request, "customers/merge_detail.html", {"merge": record})
