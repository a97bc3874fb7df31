from django.urls import path

from cartera.activity import views

app_name = "activity"
urlpatterns = [
    path("customers/<int:customer_pk>/interactions/", views.interaction_create, name="interaction_create"),
    path("customers/<int:customer_pk>/tasks/", views.task_create, name="task_create"),
    path("tasks/", views.my_tasks, name="my_tasks"),
    path("tasks/<int:pk>/toggle/", views.task_toggle, name="task_toggle"),
]
