"""Rate limits on public endpoints, keyed by the hashed client address.

The address comes from ``services.client_address``, which trusts X-Forwarded-For only as far as
MODERATO_TRUSTED_PROXIES, so a spoofed header cannot reset a client's budget.

The counters live in the cache (Redis in production). When the cache cannot be reached the limit
fails open: the request goes through and the failure is logged, because a comment must never be
refused, let alone lost, for want of a counter.
"""

import logging

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from comments import services

logger = logging.getLogger(__name__)


def request_client_address(request: Request) -> str:
    return services.client_address(
        remote_addr=request.META.get("REMOTE_ADDR", ""),
        forwarded_for=request.META.get("HTTP_X_FORWARDED_FOR", ""),
        trusted_proxies=settings.MODERATO_TRUSTED_PROXIES,
    )


class SubmitRateThrottle(SimpleRateThrottle):
    scope = "comment_submit"

    def get_rate(self) -> str | None:
        # Read at request time, not import time, so that settings changes apply.
        return settings.MODERATO_SUBMIT_RATE or None

    def get_cache_key(self, request: Request, view: APIView) -> str:
        address = request_client_address(request)
        return self.cache_format % {"scope": self.scope, "ident": services.ip_hash(address=address)}

    def allow_request(self, request: Request, view: APIView) -> bool:
        try:
            return super().allow_request(request, view)
        except Exception as exc:  # the cache's client raises its own errors (redis.ConnectionError, ...)
            logger.warning("rate limit %s not applied, the cache cannot be reached: %s", self.scope, exc)
            return True


class ReportRateThrottle(SubmitRateThrottle):
    scope = "comment_report"
