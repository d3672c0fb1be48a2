"""URLs of the compatibility APIs, mounted at the root: /v1alpha1/... and /1.1/..."""

from django.urls import path

from moderation.compat import akismet, perspective

urlpatterns = [
    path("v1alpha1/comments:analyze", perspective.comments_analyze, name="perspective-analyze"),
    path("v1alpha1/comments:suggestscore", perspective.comments_suggestscore, name="perspective-suggestscore"),
    path("1.1/verify-key", akismet.verify_key_view, name="akismet-verify-key"),
    path("1.1/comment-check", akismet.comment_check_view, name="akismet-comment-check"),
    path("1.1/submit-spam", akismet.submit_spam_view, name="akismet-submit-spam"),
    path("1.1/submit-ham", akismet.submit_ham_view, name="akismet-submit-ham"),
    path("1.2/usage-limit", akismet.usage_limit_view, name="akismet-usage-limit"),
]
