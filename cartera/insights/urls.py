from django.urls import path

from cartera.insights import views

app_name = "insights"
urlpatterns = [
    path("predictions/", views.backtest, name="backtest"),
    path("predictions/check/", views.backtest_queue, name="backtest_queue"),
]
