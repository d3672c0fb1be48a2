from django.urls import path

from comments import views

urlpatterns = [
    path("comments", views.CommentCollection.as_view(), name="api-comment-collection"),
    path("comments/<int:pk>", views.CommentDetail.as_view(), name="api-comment-detail"),
    path("threads/<path:thread_key>/comments", views.ThreadCommentList.as_view(), name="api-thread-comments"),
    path("counts", views.CommentCounts.as_view(), name="api-comment-counts"),
]
