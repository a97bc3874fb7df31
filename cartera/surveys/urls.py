from django.urls import path

from cartera.surveys.views import audits, public, questions, surveys

app_name = "surveys"
urlpatterns = [
    path("", surveys.survey_list, name="list"),
    path("new/", surveys.survey_new, name="new"),
    path("<int:pk>/", surveys.survey_detail, name="detail"),
    path("<int:pk>/invite/", surveys.invitation_create, name="invite"),
    path("<int:pk>/send-segment/", surveys.survey_send_segment, name="send_segment"),
    path("<int:pk>/qr.svg", surveys.invitation_qr, name="qr"),
    path("<int:pk>/questions/", questions.questions_page, name="questions"),
    path("<int:pk>/questions/<int:question_pk>/", questions.question_edit, name="question_edit"),
    path("<int:pk>/questions/<int:question_pk>/remove/", questions.question_remove, name="question_remove"),
    path("<int:pk>/questions/<int:question_pk>/move/", questions.question_move, name="question_move"),
    path("<int:pk>/breakdowns/", surveys.breakdowns, name="breakdowns"),
    path("results/", surveys.results, name="results"),
    path("verbatims/", surveys.verbatims, name="verbatims"),
    path("audits/", audits.audit_list, name="audit_list"),
    path("audits/new/", audits.audit_new, name="audit_new"),
    path("audits/results/", audits.audit_results, name="audit_results"),
    path("audits/<int:pk>/", audits.audit_detail, name="audit_detail"),
    path("audits/<int:pk>/step/<str:step>/", audits.audit_fill, name="audit_fill"),
    path("audits/<int:pk>/step/<str:step>/photo/", audits.audit_photo_add, name="audit_photo_add"),
    path("audits/<int:pk>/submit/", audits.audit_submit, name="audit_submit"),
    path("audits/<int:pk>/findings/", audits.finding_create, name="finding_create"),
    path("audits/photos/<int:pk>.jpg", audits.audit_photo, name="audit_photo"),
    path("audits/photos/<int:pk>/delete/", audits.audit_photo_delete, name="audit_photo_delete"),
    path("checklists/", audits.template_list, name="template_list"),
    path("checklists/<int:pk>/", audits.template_detail, name="template_detail"),
]

# The answer page is public (no login): mounted by cartera/urls.py outside the logged-in pages.
public_urlpatterns = [
    path("<str:signed>/", public.answer, name="survey_answer"),
]
