"""Django admin for admins: reference data (tags, custom fields) and a raw view of the customer file."""

from django.contrib import admin

from cartera.customers.models import Company, Customer, CustomField, Tag


@admin.register(CustomField)
class CustomFieldAdmin(admin.ModelAdmin[CustomField]):
    list_display = ["label", "key", "field_type", "required", "position"]
    list_editable = ["position"]
    prepopulated_fields = {"key": ["label"]}


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin[Tag]):
    search_fields = ["name"]


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin[Company]):
    list_display = ["name", "tax_id", "sector", "size", "region"]
    search_fields = ["name_key", "tax_id"]


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin[Customer]):
    list_display = ["first_name", "last_name", "email", "phone", "stage", "owner"]
    list_filter = ["stage", "source"]
    search_fields = ["=email", "=phone", "last_name_key"]
    raw_id_fields = ["company", "owner"]
    show_full_result_count = False  # counting a million rows on every admin page is slow
    readonly_fields = ["created_at", "updated_at"]
