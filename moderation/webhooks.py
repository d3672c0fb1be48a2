"""Signed webhooks: POST a JSON event to a site's URL with an HMAC-SHA256 signature.

The receiver recomputes ``sha256=HMAC(secret, "<timestamp>.<body>")`` and compares it with the
``X-Moderato-Signature`` header, and refuses a timestamp too far from its clock (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from typing import Any

SIGNATURE_HEADER = "X-Moderato-Signature"
TIMESTAMP_HEADER = "X-Moderato-Timestamp"
EVENT_HEADER = "X-Moderato-Event"


class WebhookError(Exception):
    """The receiver could not be reached or did not answer 2xx."""


def webhook_sign(*, secret: str, timestamp: int, body: bytes) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def webhook_verify(
    *, secret: str, timestamp: int, body: bytes, signature: str, tolerance: int = 300, now: float | None = None
) -> bool:
    """What a receiver does: check the signature, and that the timestamp is recent."""
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    return hmac.compare_digest(webhook_sign(secret=secret, timestamp=timestamp, body=body), signature)


def webhook_post(*, url: str, secret: str, event: str, payload: dict[str, Any], timeout: float = 5) -> int:
    """POST one signed event; return the HTTP status, or raise WebhookError."""
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = int(time.time())
    request = urllib.request.Request(  # noqa: S310  (the URL is an http(s) URL an admin configured)
        url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Moderato-Webhook/1",
            EVENT_HEADER: event,
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: webhook_sign(secret=secret, timestamp=timestamp, body=body),
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        raise WebhookError(f"{url} answered {exc.code}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise WebhookError(f"{url} could not be reached: {exc}") from exc
