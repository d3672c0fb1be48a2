"""Signed webhooks: POST a JSON event to a site's URL with HMAC-SHA256 signatures.

Each delivery carries the Standard Webhooks headers (https://www.standardwebhooks.com): ``webhook-id``
(the event id, the same on every retry, to deduplicate on), ``webhook-timestamp`` and
``webhook-signature`` = ``v1,`` + base64 of HMAC-SHA256(key, "<id>.<timestamp>.<body>"), where the key
is the site's secret as bytes, shown to receivers as ``whsec_`` + base64 of those bytes (what
Standard Webhooks libraries take). For one release it also carries the headers of the first
release: ``X-Moderato-Signature`` = ``sha256=HMAC(secret, "<timestamp>.<body>")`` in hex, with
``X-Moderato-Timestamp`` and ``X-Moderato-Event``. Receivers refuse a timestamp too far from their
clock (replays).
"""

from __future__ import annotations

import base64
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
ID_HEADER = "webhook-id"
STANDARD_TIMESTAMP_HEADER = "webhook-timestamp"
STANDARD_SIGNATURE_HEADER = "webhook-signature"
SECRET_PREFIX = "whsec_"  # noqa: S105  (a prefix, not a secret)


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


def signing_secret(secret: str) -> str:
    """The site's secret as Standard Webhooks receivers take it: ``whsec_`` + base64 of its bytes."""
    return SECRET_PREFIX + base64.b64encode(secret.encode()).decode()


def _key(secret: str) -> bytes:
    """The HMAC key of a secret given either way (the raw secret, or its ``whsec_`` form)."""
    return base64.b64decode(secret[len(SECRET_PREFIX) :]) if secret.startswith(SECRET_PREFIX) else secret.encode()


def standard_sign(*, secret: str, event_id: str, timestamp: int, body: bytes) -> str:
    content = f"{event_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(_key(secret), content, hashlib.sha256).digest()).decode()


def standard_verify(*, secret: str, headers: dict[str, str], body: bytes, tolerance: int = 300) -> bool:
    """What a Standard Webhooks receiver does: one of the ``v1,`` signatures matches, the timestamp is recent."""
    lowered = {name.lower(): value for name, value in headers.items()}
    try:
        event_id, timestamp = lowered[ID_HEADER], int(lowered[STANDARD_TIMESTAMP_HEADER])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = standard_sign(secret=secret, event_id=event_id, timestamp=timestamp, body=body)
    return any(hmac.compare_digest(expected, given) for given in lowered.get(STANDARD_SIGNATURE_HEADER, "").split())


def webhook_post(
    *, url: str, secret: str, event: str, payload: dict[str, Any], event_id: str = "", timeout: float = 5
) -> int:
    """POST one signed event; return the HTTP status, or raise WebhookError."""
    body = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = int(time.time())
    standard = (
        {
            ID_HEADER: event_id,
            STANDARD_TIMESTAMP_HEADER: str(timestamp),
            STANDARD_SIGNATURE_HEADER: standard_sign(secret=secret, event_id=event_id, timestamp=timestamp, body=body),
        }
        if event_id
        else {}
    )
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
            **standard,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        raise WebhookError(f"{url} answered {exc.code}") from exc
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        raise WebhookError(f"{url} could not be reached: {exc}") from exc
