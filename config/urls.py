from django.contrib import admin
from django.urls import include, path
from django.views.generic import TemplateView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.login import ThrottledAdminLoginForm
from moderation.admin import dashboard_view
from moderation.health import healthz
from moderation.metrics import metrics_view
from moderation.urls import moderation_api_urlpatterns, reader_api_urlpatterns

# /livez is answered by moderation.health.LivezMiddleware, before any URL is resolved.
admin.site.login_form = ThrottledAdminLoginForm  # growing delays after failed logins (config/login.py)
admin.site.site_header = admin.site.site_title = "Moderato"
admin.site.index_title = "Moderation"

urlpatterns = [
    path("admin/dashboard/", admin.site.admin_view(dashboard_view), name="moderato-dashboard"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("comments.urls")),
    path("api/v1/", include(reader_api_urlpatterns)),
    path("api/v1/moderation/", include(moderation_api_urlpatterns)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("healthz", healthz, name="health"),
    path("metrics", metrics_view, name="metrics"),
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
