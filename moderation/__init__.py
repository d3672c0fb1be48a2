"""The private side: the decision policy, the scoring task, moderator decisions and the admin.

``policy`` is pure (no Django, no models); ``scoring`` adapts ``ml`` to the settings;
``services`` scores and decides comments with a compare-and-set update; ``tasks`` are thin
Celery wrappers that take ids and call one service.
"""
