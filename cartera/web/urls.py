"""The web app's own pages, and the customer page's routes, which the project's URL map mounts in the
namespaces of the apps they act for (so ``customers:detail`` keeps its name)."""

from django.urls import URLPattern, path

from cartera.web import customer_page, views

app_name = "web"
urlpatterns = [path("", views.home, name="home"), path("glossary/", views.glossary, name="glossary")]

# Namespace → routes added to that app's own ones (see cartera/urls.py).
customer_page_routes: dict[str, list[URLPattern]] = {
    "customers": [
        path("<int:pk>/", customer_page.customer_detail, name="detail"),
        path("<int:pk>/stage/", customer_page.stage_change, name="stage_change"),
    ],
    "activity": [
        path(
            "customers/<int:customer_pk>/interactions/",
            customer_page.interaction_create,
            name="interaction_create",
        ),
        path("customers/<int:customer_pk>/tasks/", customer_page.task_create, name="task_create"),
    ],
    "sales": [path("customers/<int:customer_pk>/orders/", customer_page.order_create, name="order_create")],
}
