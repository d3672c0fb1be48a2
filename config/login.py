"""Brute-force protection for the admin's login: growing delays per account and per address.

After ``FREE_FAILURES`` failed logins for one username, or from one client address, each further
attempt must wait 1 s, then 2, 4 ... up to 15 minutes from the last failure; a correct password
entered too early is refused too. The delay ends by itself, so a moderator is never locked out for
good, and a successful login clears the account's count. Counters live in the cache (Redis in
production, shared by every process) and the check fails open when the cache cannot be reached.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from typing import Any

from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.cache import cache
from django.core.exceptions import ValidationError

from comments.services import client_address

logger = logging.getLogger(__name__)

FREE_FAILURES = 5
MAX_DELAY_SECONDS = 15 * 60
KEEP_SECONDS = 24 * 3600


def delay_after(failures: int) -> int:
    """Seconds an attempt must wait after the last of ``failures`` failed ones."""
    if failures < FREE_FAILURES:
        return 0
    return int(min(2 ** (failures - FREE_FAILURES), MAX_DELAY_SECONDS))


def _key(kind: str, value: str) -> str:
    return f"login-failures:{kind}:{hashlib.sha256(value.encode()).hexdigest()[:32]}"


def login_keys(request: Any, username: str) -> list[str]:
    address = client_address(
        remote_addr=request.META.get("REMOTE_ADDR", ""),
        forwarded_for=request.META.get("HTTP_X_FORWARDED_FOR", ""),
        trusted_proxies=settings.MODERATO_TRUSTED_PROXIES,
    )
    return [_key("account", username.strip().lower()), _key("address", address)]


def seconds_to_wait(keys: list[str], now: float | None = None) -> int:
    now = time.time() if now is None else now
    try:
        records = cache.get_many(keys)
    except Exception as exc:  # the store is down: fail open
        logger.warning("login throttle not applied, the cache cannot be reached: %s", exc)
        return 0
    remaining = [last + delay_after(failures) - now for failures, last in records.values()]
    return max([math.ceil(seconds) for seconds in remaining if seconds > 0], default=0)


def failure_record(keys: list[str], now: float | None = None) -> None:
    now = time.time() if now is None else now
    try:
        for key in keys:
            failures, _ = cache.get(key) or (0, 0.0)
            cache.set(key, (failures + 1, now), timeout=KEEP_SECONDS)
    except Exception as exc:
        logger.warning("login failure not counted, the cache cannot be reached: %s", exc)


class ThrottledAdminLoginForm(AdminAuthenticationForm):
    def clean(self) -> dict[str, Any]:
        username = str(self.cleaned_data.get("username") or "")
        keys = login_keys(self.request, username)
        wait = seconds_to_wait(keys)
        if wait:
            logger.warning("admin login for %r refused after repeated failures: wait %s s", username, wait)
            raise ValidationError(
                "Too many failed attempts: wait %(seconds)s s, then try again.",
                code="throttled",
                params={"seconds": wait},
            )
        try:
            cleaned = super().clean()
        except ValidationError:
            failure_record(keys)
            raise
        try:
            cache.delete(keys[0])  # the account's count; the address keeps its own
        except Exception:  # noqa: S110  (fail open, as above)
            pass
        return cleaned
