"""Rate limits on public endpoints, keyed by the hashed client address.

The address comes from ``services.client_address``, which trusts X-Forwarded-For only as far as
MODERATO_TRUSTED_PROXIES, so a spoofed header cannot reset a client's budget.
"""

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from comments import services


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


class ReportRateThrottle(SubmitRateThrottle):
    scope = "comment_report"
