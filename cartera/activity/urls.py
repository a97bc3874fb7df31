"""My tasks. The customer page's quick forms (``interaction_create``, ``task_create``) are composed in web
and mounted in this namespace by the project's URL map."""

from django.urls import path

from cartera.activity import views

app_name = "activity"
urlpatterns = [
    path("tasks/", views.my_tasks, name="my_tasks"),
    path("tasks/<int:pk>/toggle/", views.task_toggle, name="task_toggle"),
    path("tasks/<int:pk>/snooze/", views.task_snooze, name="task_snooze"),
]
