from django.urls import path

from cartera.campaigns import views

app_name = "campaigns"
urlpatterns = [
    path("", views.campaign_list, name="list"),
    path("new/", views.campaign_create, name="create"),
    path("<int:pk>/", views.campaign_detail, name="detail"),
    path("<int:pk>/settings/", views.campaign_update, name="update"),
    path("<int:pk>/messages/<int:message_pk>/", views.message_edit, name="message"),
    path("<int:pk>/review/", views.campaign_review, name="review"),
    path("<int:pk>/test/", views.campaign_test_send, name="test_send"),
    path("<int:pk>/send/", views.campaign_send, name="send"),
    path("<int:pk>/pause/", views.campaign_pause, name="pause"),
    path("<int:pk>/resume/", views.campaign_resume, name="resume"),
    path("<int:pk>/delete/", views.campaign_delete, name="delete"),
    path("<int:pk>/progress/", views.campaign_progress, name="progress"),
    path("<int:pk>/results/", views.campaign_results, name="results"),
    path("<int:pk>/replies/", views.reply_log, name="reply"),
    path("c/<str:token>/", views.click, name="click"),
]
