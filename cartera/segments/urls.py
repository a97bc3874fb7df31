from django.urls import path

from cartera.segments import views

app_name = "segments"
urlpatterns = [
    path("", views.segment_list, name="list"),
    path("new/", views.segment_new, name="new"),
    path("count/", views.segment_count, name="count"),
    path("<int:pk>/", views.segment_detail, name="detail"),
    path("<int:pk>/edit/", views.segment_edit, name="edit"),
    path("<int:pk>/bulk/", views.segment_bulk, name="bulk"),
    path("<int:pk>/freeze/", views.segment_freeze, name="freeze"),
    path("<int:pk>/delete/", views.segment_delete, name="delete"),
    path("pareto/", views.pareto, name="pareto"),
    path("rfm/", views.rfm, name="rfm"),
    path("personas/", views.persona_list, name="persona_list"),
    path("personas/new/", views.persona_new, name="persona_new"),
    path("personas/suggest/", views.persona_suggest, name="persona_suggest"),
    path("personas/adopt/<int:run>/<int:index>/", views.persona_adopt, name="persona_adopt"),
    path("personas/<int:pk>/", views.persona_detail, name="persona_detail"),
    path("personas/<int:pk>/edit/", views.persona_edit, name="persona_edit"),
    path("personas/<int:pk>/delete/", views.persona_delete, name="persona_delete"),
    path("follow-up/<int:customer_pk>/", views.follow_up, name="follow_up"),
]
