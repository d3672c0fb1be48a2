"""The stories of the comments stored before events were written, from what their rows still tell.

A moderator's decision (``ModerationDecision``) becomes its event, with its time and moderator. The
pipeline's decision is rebuilt from the comment: the status it had before the first moderator's
decision (else its status now), its scores, model versions and reasons, at its ``decided_at`` when
nothing came after, else at its submission (the real time is gone); readers' reports that put it back
in the queue add that step. An author's deletion and the pipeline's decisions on edits follow. Each
rebuilt event says so (``"backfilled": true``); the submission, the reports and the edits sent need no
row (``moderation.story`` reads them from their own rows).
"""

import re

from django.db import migrations

CHUNK = 2000
DECIDED_STATUSES = {"published", "held", "rejected"}
EDIT_NOTE = re.compile(r"^edit #(\d+) (approved|rejected)")


def events_of_comment(comment, decisions, edits, last_report):
    """The event rows (as dicts) of one comment: ``decisions`` oldest first, ``edits`` decided ones."""
    events = []
    moderated_edits = set()
    first_status = None
    for decision in decisions:
        edit = EDIT_NOTE.match(decision["note"])
        common = {
            "actor": "person",
            "user_id": decision["actor_id"],
            "decision_id": decision["id"],
            "at": decision["created_at"],
        }
        if edit:
            moderated_edits.add(int(edit.group(1)))
            state = "published" if edit.group(2) == "approved" else "rejected"
            events.append(
                common | {"kind": "edit_decided", "details": {"edit": int(edit.group(1)), "state": state, "backfilled": True}}
            )
            continue
        if first_status is None:
            first_status = decision["from_status"]
        events.append(
            common
            | {
                "kind": "decided",
                "from_status": decision["from_status"],
                "to_status": decision["to_status"],
                "details": {"backfilled": True},
            }
        )
    reasons = comment["reasons"] or []
    codes = {reason.get("code") for reason in reasons if isinstance(reason, dict)}
    initial = first_status if first_status is not None else comment["status"]
    by_reports = "reader_reports" in codes and initial == "held"
    imported_unscored = bool(comment["external_id"]) and not comment["scores"]
    if initial in DECIDED_STATUSES and not imported_unscored:
        outcome = "published" if by_reports else initial
        alone = first_status is None and not by_reports and comment["deleted_at"] is None
        events.append(
            {
                "actor": "system",
                "kind": "scoring_failed" if "scoring_failed" in codes else "scored",
                "from_status": "pending",
                "to_status": outcome,
                "at": comment["decided_at"] if alone and comment["decided_at"] else comment["created_at"],
                "details": {
                    "scores": comment["scores"],
                    "versions": comment["model_versions"],
                    "reasons": [r for r in reasons if not (isinstance(r, dict) and r.get("code") == "reader_reports")],
                    "language": comment["language"],
                    "backfilled": True,
                },
            }
        )
        if by_reports:
            events.append(
                {
                    "actor": "system",
                    "kind": "reports_held",
                    "from_status": "published",
                    "to_status": "held",
                    "at": last_report or comment["created_at"],
                    "details": {
                        "reasons": [r for r in reasons if isinstance(r, dict) and r.get("code") == "reader_reports"],
                        "backfilled": True,
                    },
                }
            )
    if comment["deleted_at"] is not None:
        events.append(
            {
                "actor": "reader",
                "kind": "deleted",
                "to_status": comment["status"],
                "at": comment["deleted_at"],
                "details": {"placeholder": comment["status"] == "published", "backfilled": True},
            }
        )
    for edit in edits:
        edit_codes = {reason.get("code") for reason in edit["reasons"] or [] if isinstance(reason, dict)}
        if "edit_superseded" in edit_codes:
            continue
        held_first = edit["id"] in moderated_edits
        events.append(
            {
                "actor": "system",
                "kind": "edit_scored",
                "at": edit["created_at"] if held_first else edit["decided_at"],
                "details": {
                    "edit": edit["id"],
                    "state": "held" if held_first else edit["state"],
                    "scores": edit["scores"],
                    "versions": edit["model_versions"],
                    "reasons": edit["reasons"],
                    "backfilled": True,
                },
            }
        )
    return events


def backfill(apps, schema_editor):
    Comment = apps.get_model("comments", "Comment")
    CommentEdit = apps.get_model("comments", "CommentEdit")
    Report = apps.get_model("comments", "Report")
    ModerationDecision = apps.get_model("moderation", "ModerationDecision")
    CommentEvent = apps.get_model("moderation", "CommentEvent")
    fields = (
        "id", "status", "reasons", "scores", "model_versions", "language", "external_id", "created_at",
        "decided_at", "deleted_at",
    )  # fmt: skip
    last = 0
    while True:
        comments = list(Comment.objects.filter(pk__gt=last).order_by("pk").values(*fields)[:CHUNK])
        if not comments:
            return
        last = comments[-1]["id"]
        ids = [comment["id"] for comment in comments]
        decisions = {}
        for decision in (
            ModerationDecision.objects.filter(comment_id__in=ids)
            .order_by("created_at", "pk")
            .values("id", "comment_id", "actor_id", "from_status", "to_status", "note", "created_at")
        ):
            decisions.setdefault(decision["comment_id"], []).append(decision)
        edits = {}
        for edit in (
            CommentEdit.objects.filter(comment_id__in=ids, decided_at__isnull=False)
            .exclude(state="pending")
            .order_by("pk")
            .values("id", "comment_id", "state", "scores", "model_versions", "reasons", "created_at", "decided_at")
        ):
            edits.setdefault(edit["comment_id"], []).append(edit)
        last_report = {}
        for comment_id, created_at in Report.objects.filter(comment_id__in=ids).values_list("comment_id", "created_at"):
            last_report[comment_id] = max(created_at, last_report.get(comment_id, created_at))
        rows = [
            CommentEvent(comment_id=comment["id"], **event)
            for comment in comments
            for event in events_of_comment(
                comment, decisions.get(comment["id"], []), edits.get(comment["id"], []), last_report.get(comment["id"])
            )
        ]
        CommentEvent.objects.bulk_create(rows, batch_size=1000)


class Migration(migrations.Migration):
    dependencies = [
        ("comments", "0012_comment_external_id"),
        ("moderation", "0017_comment_events"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop, elidable=True)]
