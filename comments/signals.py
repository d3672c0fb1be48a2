"""The seam between the public side and whatever moderates it (as django-contrib-comments does).

The public side stores comments and reports and answers readers; it decides nothing. It tells the
moderation app through these signals, and imports nothing from it:

- ``comment_was_posted(sender=Comment, comment_id)``: a new comment is stored. Sent right after its
  INSERT: inside the transaction that stored it when there is one (a new thread, an idempotency key),
  else with the comment already committed (a submission to an existing thread is a single INSERT). A
  receiver defers its work to the commit (``transaction.on_commit``, which then runs at once) and must
  not count on rolling back with the comment.
- ``comment_was_reported(sender=Comment, comment_id, reports)``: a reader reported a published
  comment; ``reports`` counts the reports since its last decision. Sent inside the transaction that
  stored the report, with the comment's row locked, so a receiver may change its status.
- ``comment_was_edited(sender=Comment, comment_id, edit_id)``: its author sent a new text for a published
  comment (a ``CommentEdit``, pending); sent inside the transaction that stored it, with the comment's
  row locked. A receiver has it scored after the commit.
- ``comment_was_deleted(sender=Comment, comment_id)``: its author deleted it; sent inside the
  transaction, with the comment's row locked. A receiver takes it off the page.
- ``comment_status_requested(sender=Comment, comment, user)``: someone follows a comment on the status
  API; a receiver returns a dict of extra keys for the answer (the moderator block) or ``None``.
"""

from django.dispatch import Signal

comment_was_posted = Signal()
comment_was_reported = Signal()
comment_was_edited = Signal()
comment_was_deleted = Signal()
comment_status_requested = Signal()
