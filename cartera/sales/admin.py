from django.contrib import admin

from cartera.sales.models import Order


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin[Order]):
    list_display = ["customer", "ordered_on", "amount", "currency", "channel", "source", "external_ref"]
    list_filter = ["channel", "source"]
    raw_id_fields = ["customer", "created_by"]
    show_full_result_count = False
