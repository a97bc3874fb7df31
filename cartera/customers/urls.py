"""Customer and company pages of this app. The customer page itself (``detail``) is composed in web and
mounted in this namespace by the project's URL map."""

from django.urls import path

from cartera.customers import views

app_name = "customers"
urlpatterns = [
    path("", views.customer_list, name="list"),
    path("new/", views.customer_create, name="create"),
    path("stage/", views.customer_stage_bulk, name="stage_bulk"),
    path("<int:pk>/edit/", views.customer_edit, name="edit"),
    path("<int:pk>/delete/", views.customer_delete, name="delete"),
    path("duplicates/", views.duplicates, name="duplicates"),
    path("duplicates/merge/", views.merge, name="merge"),
    path("merges/<int:pk>/", views.merge_detail, name="merge_detail"),
    path("fields/", views.custom_field_list, name="custom_fields"),
    path("fields/new/", views.custom_field_create, name="custom_field_create"),
    path("fields/<int:pk>/edit/", views.custom_field_edit, name="custom_field_edit"),
    path("fields/<int:pk>/delete/", views.custom_field_delete, name="custom_field_delete"),
    path("companies/", views.company_list, name="company_list"),
    path("companies/new/", views.company_create, name="company_create"),
    path("companies/<int:pk>/", views.company_detail, name="company_detail"),
    path("companies/<int:pk>/edit/", views.company_edit, name="company_edit"),
]
