"""Routes of the pipeline app (mounted at /pipeline/)."""

from django.urls import path

from cartera.pipeline import views

app_name = "pipeline"
urlpatterns = [
    path("", views.board, name="board"),
    path("columns/<int:stage_pk>/", views.column, name="column"),
    path("opportunities/", views.opportunity_list, name="list"),
    path("opportunities/new/", views.opportunity_create, name="create"),
    path("opportunities/<int:pk>/", views.opportunity_detail, name="detail"),
    path("opportunities/<int:pk>/edit/", views.opportunity_edit, name="edit"),
    path("opportunities/<int:pk>/move/", views.opportunity_move, name="move"),
    path("opportunities/<int:pk>/win/", views.opportunity_win, name="win"),
    path("opportunities/<int:pk>/lose/", views.opportunity_lose, name="lose"),
    path("opportunities/<int:pk>/reopen/", views.opportunity_reopen, name="reopen"),
    path("opportunities/<int:pk>/qualify/", views.opportunity_qualify, name="qualify"),
    path("opportunities/<int:pk>/delete/", views.opportunity_delete, name="delete"),
    path("report/", views.report, name="report"),
    path("report/sources.csv", views.report_sources_csv, name="report_sources_csv"),
    path("settings/", views.settings_page, name="settings"),
    path("calls/", views.calls, name="calls"),
    path("calls/<int:customer_pk>/log/", views.call_log, name="call_log"),
    path("calls/lists/<int:pk>/", views.call_list_detail, name="call_list"),
    path("calls/team/", views.team, name="team"),
    path("prospects/", views.prospects, name="prospects"),
    path("sheet/", views.sheet, name="sheet"),
    path("sheet/template.xlsx", views.sheet_template, name="sheet_template"),
    path("sheet/pdf/", views.sheet_pdf, name="sheet_pdf"),
    path("forms/", views.lead_forms, name="lead_forms"),
    path("forms/new/", views.lead_form_edit, name="lead_form_new"),
    path("forms/<int:pk>/", views.lead_form_edit, name="lead_form"),
    path("f/<slug:slug>/", views.lead_public, name="lead_public"),
    path("f/confirm/<str:token>/", views.lead_confirm, name="lead_confirm"),
]
