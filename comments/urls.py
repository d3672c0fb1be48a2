from django.urls import path

from comments import views

urlpatterns = [
    path("comments", views.CommentCollection.as_view(), name="api-comment-collection"),
    path("comments/<int:pk>", views.CommentDetail.as_view(), name="api-comment-detail"),
    path("comments/<int:pk>/report", views.CommentReport.as_view(), name="api-comment-report"),
    path("threads/<path:thread_key>/comments", views.ThreadCommentList.as_view(), name="api-thread-comments"),
    path("counts", views.CommentCounts.as_view(), name="api-comment-counts"),
    path("form-token", views.FormToken.as_view(), name="api-form-token"),
]
