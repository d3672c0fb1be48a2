from django.contrib import admin
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import include, path
from django.views.generic import TemplateView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView


def health(request: HttpRequest) -> JsonResponse:
    """Answer 200 when the database answers; for load balancers and compose health checks."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include("comments.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("healthz", health, name="health"),
    path("moderation/", include("moderation.urls")),
    path("", include("moderation.compat.urls")),
    # The demo article page, embedding the widget exactly as a publisher would.
    path(
        "",
        TemplateView.as_view(
            template_name="comments/demo.html", extra_context={"site_key": "demo", "thread_key": "/demo/article"}
        ),
        name="demo",
    ),
]
