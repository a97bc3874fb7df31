from django.urls import path

from cartera.privacy import views

app_name = "privacy"
urlpatterns = [
    path("customers/<int:pk>/consent/", views.consent_create, name="consent_create"),
    path("customers/<int:pk>/basis/", views.profile_update, name="profile_update"),
    path("customers/<int:pk>/personal-data.<str:fmt>", views.personal_data_download, name="export"),
    path("customers/<int:pk>/erase/", views.erase, name="erase"),
    path("audit/", views.audit_log, name="audit"),
    path("records/", views.records, name="records"),
]
