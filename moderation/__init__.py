"""The private side: the decision policy, the scoring task, moderator decisions and the admin.

``policy`` is pure (no Django, no models); ``scoring`` keeps the process's active models (read
from ``model_store``, the versions stored in the database) and reports their health;
``services`` scores and decides comments with a compare-and-set update; ``tasks`` are thin
Celery wrappers that take ids and call one service.
"""
