from django.urls import path

from moderation import views

urlpatterns = [
    path("email-action/<str:token>", views.email_action, name="moderation-email-action"),
    path("replies/<str:token>", views.reply_notice, name="moderation-reply-notice"),
]
