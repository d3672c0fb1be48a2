"""Signed tokens the public side hands out: none is stored, each is checked by its signature.

- The **commenter token** a submission returns names a random commenter id, bound to one site. The
  widget keeps it (``localStorage``) and sends it with the next submission, so moderators can trust a
  commenter by something nobody else can type; the author's own actions (status, and later edit,
  export, erase) check it.
- The **status token** in a comment's ``status_url`` lets its author follow a comment that is not
  published; without it such a comment answers 404.
- The **form token** the widget fetches when the reader starts writing carries the time it was
  issued, so that a submission sent seconds later (a bot) is held.

All are signed with ``SECRET_KEY`` under their own salt, so one kind never passes for another.
"""

from __future__ import annotations

import secrets
import time

from django.conf import settings
from django.core import signing

COMMENTER_SALT = "moderato.commenter"
STATUS_SALT = "moderato.comment-status"
FORM_SALT = "moderato.form"


def commenter_new() -> str:
    """A fresh random commenter id (128 bits, 22 characters)."""
    return secrets.token_urlsafe(16)


def commenter_token_make(*, site_id: int, commenter: str) -> str:
    return signing.dumps({"s": site_id, "c": commenter}, salt=COMMENTER_SALT)


def commenter_token_read(*, token: str, site_id: int) -> str | None:
    """The commenter id of a valid token for this site, else None (forged, another site's, expired)."""
    if not token or len(token) > 400:
        return None
    try:
        payload = signing.loads(token, salt=COMMENTER_SALT, max_age=settings.MODERATO_COMMENTER_TOKEN_DAYS * 86400)
    except signing.BadSignature:  # (SignatureExpired is one)
        return None
    if not isinstance(payload, dict) or payload.get("s") != site_id:
        return None
    commenter = payload.get("c")
    return commenter if isinstance(commenter, str) and 0 < len(commenter) <= 32 else None


def status_token(*, comment_id: int) -> str:
    return signing.Signer(salt=STATUS_SALT).signature(str(comment_id))


def status_token_valid(*, comment_id: int, token: str) -> bool:
    return bool(token) and secrets.compare_digest(token, status_token(comment_id=comment_id))


def form_token_make(*, site_id: int) -> str:
    return signing.dumps({"s": site_id, "t": round(time.time(), 3)}, salt=FORM_SALT)


def form_token_seconds(*, token: str, site_id: int) -> float | None:
    """Seconds since the form token was issued; 0.0 for a token that does not verify for this site
    (forged, or another site's: treated as a submission that took no time); None for no token."""
    if not token:
        return None
    try:
        payload = signing.loads(token[:400], salt=FORM_SALT)
    except signing.BadSignature:
        return 0.0
    if not isinstance(payload, dict) or payload.get("s") != site_id or not isinstance(payload.get("t"), float | int):
        return 0.0
    return max(0.0, round(time.time() - float(payload["t"]), 3))
