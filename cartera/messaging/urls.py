from django.urls import path

from cartera.messaging import views

app_name = "messaging"
urlpatterns = [
    path("u/<str:token>/", views.unsubscribe, name="unsubscribe"),
    path("mail/sink/", views.sink, name="sink"),
]
