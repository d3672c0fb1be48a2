from django.urls import path

from moderation import api, views

urlpatterns = [
    path("email-action/<str:token>", views.email_action, name="moderation-email-action"),
    path("replies/<str:token>", views.reply_notice, name="moderation-reply-notice"),
    path("readers/export/<str:token>", views.reader_export, name="moderation-reader-export"),
    path("readers/erase/<str:token>", views.reader_erase, name="moderation-reader-erase"),
]

# The readers' API, under /api/v1/ with the public side's (its CORS and its error shape).
reader_api_urlpatterns = [
    path("readers/requests", views.ReaderRequest.as_view(), name="api-reader-request"),
    path("readers/export", views.ReaderExport.as_view(), name="api-reader-export"),
    path("readers/erase", views.ReaderErase.as_view(), name="api-reader-erase"),
]

# The moderation API for newsroom tools, under /api/v1/moderation/ (moderation.api).
moderation_api_urlpatterns = [
    path("comments", api.ModerationQueue.as_view(), name="api-moderation-queue"),
    path("comments/<int:pk>", api.ModerationStory.as_view(), name="api-moderation-story"),
    path("comments/<int:pk>/decide", api.ModerationDecide.as_view(), name="api-moderation-decide"),
]
