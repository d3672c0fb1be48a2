"""Cross-origin access to the public API for the pages of the sites' allowed origins.

Reading is open to any origin some site allows; a submission is further checked against the
allowed origins of the site it names (``services.comment_submit``).
"""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from comments import services

API_PREFIX = "/api/v1/"
ALLOWED_METHODS = "GET, POST, OPTIONS"
ALLOWED_HEADERS = "Content-Type, Idempotency-Key"
EXPOSED_HEADERS = "Retry-After, Idempotent-Replayed"


class SiteOriginCorsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        origin = request.headers.get("Origin", "")
        if not origin or not request.path.startswith(API_PREFIX):
            return self.get_response(request)
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            response = HttpResponse(status=204)
            if services.origin_allowed_by_any_site(origin=origin):
                response["Access-Control-Allow-Methods"] = ALLOWED_METHODS
                response["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
                response["Access-Control-Max-Age"] = "600"
                self.allow(response, origin)
            response["Vary"] = "Origin"
            return response
        response = self.get_response(request)
        if services.origin_allowed_by_any_site(origin=origin):
            self.allow(response, origin)
            response["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
        response["Vary"] = "Origin" if "Vary" not in response else f"{response['Vary']}, Origin"
        return response

    @staticmethod
    def allow(response: HttpResponse, origin: str) -> None:
        response["Access-Control-Allow-Origin"] = origin
