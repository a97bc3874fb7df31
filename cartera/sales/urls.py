from django.urls import path

from cartera.sales import views

app_name = "sales"
urlpatterns = [
    path("customers/<int:customer_pk>/orders/", views.order_create, name="order_create"),
]
