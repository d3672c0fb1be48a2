"""Requests no view should see."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse


class NulInQueryMiddleware:
    """Answer 400 to a query string holding a NUL character.

    PostgreSQL text cannot hold NUL, so a filter or search of the admin, or a thread key of the API,
    with ``%00`` in it ended in a 500 when it reached a query.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if any("\x00" in key or any("\x00" in value for value in values) for key, values in request.GET.lists()):
            return JsonResponse({"detail": "The query string holds a NUL character."}, status=400)
        return self.get_response(request)
