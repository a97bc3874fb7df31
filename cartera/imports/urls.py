from django.urls import path

from cartera.imports import views

app_name = "imports"
urlpatterns = [
    path("", views.index, name="index"),
    path("imports/new/", views.upload, name="upload"),
    path("imports/<int:pk>/", views.job_detail, name="detail"),
    path("imports/<int:pk>/mapping/", views.mapping, name="mapping"),
    path("imports/<int:pk>/commit/", views.commit, name="commit"),
    path("imports/<int:pk>/progress/", views.progress, name="progress"),
    path("imports/<int:pk>/rollback/", views.rollback, name="rollback"),
    path("imports/<int:pk>/rejected.csv", views.rejected, name="rejected"),
    path("exports/", views.exports, name="exports"),
    path("exports/<int:pk>/progress/", views.export_progress, name="export_progress"),
    path("exports/<int:pk>/download/", views.export_download, name="export_download"),
    path("export/customers.<str:fmt>", views.export_customers, name="export_customers"),
    path("export/orders.<str:fmt>", views.export_orders, name="export_orders"),
    path("export/interactions.<str:fmt>", views.export_interactions, name="export_interactions"),
]
