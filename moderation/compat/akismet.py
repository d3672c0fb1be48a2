"""The Akismet API (1.1, and the 1.2 usage report) for its clients.

Answers are Akismet's plain-text bodies (``valid``, ``true``, ``Thanks for making the web a
better place.``); a bad key or a missing field answers ``invalid`` with ``X-akismet-debug-help``.
The key comes from the ``api_key`` field (``key`` for verify-key) or, where ALLOWED_HOSTS lets
such a host in, from the first label of the host name (``KEY.comments.example.org``). Bodies may
be form-encoded or JSON.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Callable
from typing import Any

from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.csrf import csrf_exempt

from ml.vocabulary import Attribute
from moderation.compat import services
from moderation.compat.models import ApiKey, TrainingLabel

THANKS = "Thanks for making the web a better place."
TRUE_VALUES = {"1", "true", "yes", "on"}
# Akismet's alert code for a key that is over its plan's limits.
OVER_LIMIT_ALERT = "10008"


def text(body: str, status: int = 200, **headers: str) -> HttpResponse:
    response = HttpResponse(body, status=status, content_type="text/plain; charset=utf-8")
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def invalid(help_text: str) -> HttpResponse:
    return text("invalid", X_akismet_debug_help=help_text)


def scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else ""
    if isinstance(value, str | int | float):
        return str(value)
    return ""


def request_fields(request: HttpRequest) -> dict[str, str] | None:
    """The call's fields from a form or JSON body, plus the query string; None if the body is unreadable."""
    fields = {name: request.GET.get(name, "") for name in request.GET}
    if request.method != "POST":
        return fields
    try:
        if request.content_type == "application/json":
            body = json.loads(request.body or b"{}")
            if not isinstance(body, dict):
                return None
            fields |= {str(name): scalar(value) for name, value in body.items()}
        else:
            fields |= {name: request.POST.get(name, "") for name in request.POST}
    except (SuspiciousOperation, MultiPartParserError, ValueError, RecursionError):
        return None
    # Lone surrogates (from JSON escapes) cannot be stored or encoded.
    return {name: value.encode("utf-8", "replace").decode("utf-8") for name, value in fields.items()}


def host_key(request: HttpRequest) -> str:
    """The first label of a host name such as ``KEY.comments.example.org``; "" for an IP address."""
    try:
        host = request.get_host()
    except SuspiciousOperation:
        return ""
    host = "" if "]" in host else host.rsplit(":", 1)[0]
    try:
        ipaddress.ip_address(host)
        return ""
    except ValueError:
        pass
    labels = host.split(".")
    return labels[0] if len(labels) >= 3 else ""


def authenticated(
    handler: Callable[[HttpRequest, dict[str, str], ApiKey], HttpResponse],
    key_field: str = "api_key",
    methods: frozenset[str] = frozenset({"POST"}),
) -> Callable[[HttpRequest], HttpResponse]:
    """Find the key, apply its rate limit and count its use, then call the handler with the fields."""

    @csrf_exempt
    def view(request: HttpRequest) -> HttpResponse:
        if request.method not in methods:
            return text(f"Method not allowed: use {' or '.join(sorted(methods))}.", status=405)
        fields = request_fields(request)
        if fields is None:
            return invalid("The request body is not a form or a JSON object (or is too large).")
        key = fields.get(key_field) or fields.get("api_key")
        from_host = host_key(request) if not key else ""
        if not key and not from_host:
            return invalid(f"Empty '{key_field}' value.")
        api_key = services.api_key_authenticate(key=key or from_host)
        if api_key is None:
            if from_host:
                return invalid(f"Empty '{key_field}' value, and the host name does not start with an API key.")
            return invalid("Invalid API key.")
        retry_after = services.api_key_throttle(api_key=api_key)
        if retry_after is not None:
            message = f"Rate limit: this key may make {api_key.requests_per_minute} requests a minute."
            return text(
                message,
                status=429,
                Retry_After=str(retry_after),
                X_akismet_alert_code=OVER_LIMIT_ALERT,
                X_akismet_alert_msg=message,
            )
        services.api_key_use(api_key=api_key)
        return handler(request, fields, api_key)

    view.__name__ = handler.__name__
    view.__doc__ = handler.__doc__
    return view


def missing(fields: dict[str, str], *names: str) -> HttpResponse | None:
    for name in names:
        if not fields.get(name, "").strip():
            return invalid(f"Missing required field: {name}.")
    return None


def verify_key(request: HttpRequest, fields: dict[str, str], api_key: ApiKey) -> HttpResponse:
    """``POST /1.1/verify-key`` (``key``, ``blog``): ``valid`` for an active key."""
    return missing(fields, "blog") or text("valid")


def comment_check(request: HttpRequest, fields: dict[str, str], api_key: ApiKey) -> HttpResponse:
    """``POST /1.1/comment-check``: ``true`` for spam (``X-akismet-pro-tip: discard`` if blatant), else ``false``."""
    error = missing(fields, "blog", "user_ip")
    if error:
        return error
    verdict = services.spam_check(site=api_key.site, fields=fields)
    if verdict.discard:
        return text("true", X_akismet_pro_tip="discard")
    return text("true" if verdict.spam else "false")


def submission(label: int) -> Callable[[HttpRequest, dict[str, str], ApiKey], HttpResponse]:
    def submit(request: HttpRequest, fields: dict[str, str], api_key: ApiKey) -> HttpResponse:
        error = missing(fields, "blog")
        if error:
            return error
        content = fields.get("comment_content", "")
        if content.strip() and fields.get("is_test", "").strip().lower() not in TRUE_VALUES:
            services.training_label_create(
                site=api_key.site,
                api_key=api_key,
                text=content,
                labels={Attribute.SPAM: label},
                source=TrainingLabel.Source.AKISMET,
                client_token=fields.get("permalink", ""),
            )
        return text(THANKS)

    submit.__name__ = "submit_spam" if label else "submit_ham"
    submit.__doc__ = f"``POST /1.1/submit-{'spam' if label else 'ham'}``: store the correction as a SPAM label."
    return submit


def usage_limit(request: HttpRequest, fields: dict[str, str], api_key: ApiKey) -> HttpResponse:
    """``GET /1.2/usage-limit``: this month's calls; there is no monthly limit, only the per-minute one."""
    api_key.refresh_from_db(fields=["month", "month_request_count"])
    return JsonResponse(
        {
            "limit": "none",
            "usage": api_key.month_request_count,
            "percentage": "0.00",
            "throttled": services.api_key_throttled(api_key=api_key),
        }
    )


verify_key_view = authenticated(verify_key, key_field="key")
comment_check_view = authenticated(comment_check)
submit_spam_view = authenticated(submission(1))
submit_ham_view = authenticated(submission(0))
usage_limit_view = authenticated(usage_limit, methods=frozenset({"GET", "POST"}))
