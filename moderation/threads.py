"""One thread's controls: pre-moderated, closed, or held at its own thresholds (a sensitive story).

Moderators set them from the thread's admin page or from the queue (``thread_control``). The pipeline
reads a thread's policy with the comment's thread: ``thread_policy`` costs no query when the thread was
read with ``select_related("policy")``, as the scoring paths read it.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils import timezone

from comments import services as public_services
from comments.models import Site, Thread
from moderation import policy
from moderation.models import ThreadPolicy
from moderation.sites import moderator_check

logger = logging.getLogger(__name__)


class ThreadControl(enum.StrEnum):
    PREMODERATE = "premoderate"
    STOP_PREMODERATING = "stop_premoderating"
    CLOSE = "close"
    REOPEN = "reopen"


# What the admin's actions and its history call them: "<verb> thread".
CONTROL_VERBS: dict[ThreadControl, str] = {
    ThreadControl.PREMODERATE: "Pre-moderate",
    ThreadControl.STOP_PREMODERATING: "Stop pre-moderating",
    ThreadControl.CLOSE: "Close",
    ThreadControl.REOPEN: "Reopen",
}


def thread_policy(*, thread: Thread) -> ThreadPolicy | None:
    """The thread's own policy, or None when it follows its site."""
    try:
        return thread.policy
    except ThreadPolicy.DoesNotExist:
        return None


def thread_holds(*, thread: Thread) -> dict[str, float]:
    """The thread's own hold thresholds (attribute -> publish threshold), {} when it has none."""
    found = thread_policy(thread=thread)
    return thread_holds_read(found.thresholds if found is not None else None, thread_id=thread.pk)


def thread_holds_read(raw: object, *, thread_id: int) -> dict[str, float]:
    """A thread's stored ``ThreadPolicy.thresholds`` (None: no row), read as ``thread_holds`` reads them."""
    if not raw:
        return {}
    try:
        return policy.thread_holds_from_json(raw)
    except ValueError as exc:  # the admin validates; a row written some other way is not trusted
        logger.error("thread %s: unreadable thresholds, using the site's: %s", thread_id, exc)
        return {}


def thread_thresholds(*, thread: Thread, in_force: dict[str, policy.Threshold]) -> dict[str, policy.Threshold]:
    """The thresholds that decide the thread's comments: ``in_force`` (its site's,
    ``sites.site_thresholds``) with the thread's own hold thresholds in their place."""
    holds = thread_holds(thread=thread)
    return policy.thread_holds_applied(in_force, holds) if holds else in_force


def thread_premoderated(*, thread: Thread) -> bool:
    found = thread_policy(thread=thread)
    return found is not None and found.hold_all


def thread_control(*, thread: Thread, actor: Any, control: ThreadControl) -> bool:
    """Pre-moderate, stop pre-moderating, close or reopen a thread, as a moderator of its site; return
    whether that changed it. Comments already held stay held; closing keeps the comments it has."""
    moderator_check(actor=actor, site_id=thread.site_id)
    if control is ThreadControl.CLOSE:
        return public_services.thread_close(thread=thread)
    if control is ThreadControl.REOPEN:
        return public_services.thread_reopen(thread=thread, site=thread.site)
    if control is ThreadControl.STOP_PREMODERATING:  # (a thread without a row is not pre-moderated)
        changed = bool(ThreadPolicy.objects.filter(thread=thread, hold_all=True).update(hold_all=False))
    else:
        found, created = ThreadPolicy.objects.get_or_create(thread=thread, defaults={"hold_all": True})
        changed = created or bool(ThreadPolicy.objects.filter(pk=found.pk, hold_all=False).update(hold_all=True))
    if (found_now := ThreadPolicy.objects.filter(thread=thread).first()) is not None:
        thread.policy = found_now  # what the caller reads next
    return changed


@dataclass(frozen=True)
class ThreadState:
    """What a moderator reads about a thread in the queue and on its page."""

    takes_comments: bool
    closes_at: datetime | None  # when the site's close_after_days closes it (None: never)
    premoderated: bool
    holds: dict[str, float] = field(default_factory=dict)  # its own hold thresholds

    @property
    def labels(self) -> list[str]:
        """Short words for its state, e.g. ["closed", "pre-moderated"]; [] for an open thread that follows its site."""
        found = []
        if not self.takes_comments:
            found.append("closed")
        if self.premoderated:
            found.append("pre-moderated")
        if self.holds:
            found.append("holds at " + ", ".join(f"{name} {value:g}" for name, value in sorted(self.holds.items())))
        return found


def thread_state(*, thread: Thread, site: Site, now: datetime | None = None) -> ThreadState:
    return ThreadState(
        takes_comments=thread.takes_comments(site, now or timezone.now()),
        closes_at=thread.closes_at(site),
        premoderated=thread_premoderated(thread=thread),
        holds=thread_holds(thread=thread),
    )
