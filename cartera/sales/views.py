"""Recording a purchase from the customer page."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.views.decorators.http import require_POST

from cartera.activity.views import quick_form_response
from cartera.core.http import HtmxHttpRequest
from cartera.core.scoping import get_for_user, require
from cartera.customers.models import Customer
from cartera.sales import services
from cartera.sales.forms import OrderForm
from cartera.sales.models import Order


@require_POST
def order_create(request: HtmxHttpRequest, customer_pk: int) -> HttpResponse:
    require(request.user, Order, "add")
    # Recording a purchase changes the customer (stage, figures): it needs the right to change them.
    customer = get_for_user(Customer.objects.all(), request.user, "change", pk=customer_pk)
    form = OrderForm(request.POST)
    if form.is_valid():
        try:
            services.order_create(actor=request.user, customer=customer, fields=form.cleaned_data)  # type: ignore[arg-type]
        except ValidationError as exc:
            form.add_error(None, exc)
    return quick_form_response(request, customer, "order_form", form)
