"""The public side: sites, threads and comments, submission, thread listing, the REST API.

A submission is stored first (``services.comment_submit``) and queued for scoring after the
commit; ``moderation`` scores and decides it. Views only parse, call a service and render.
"""
