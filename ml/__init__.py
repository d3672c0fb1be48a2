"""Moderato's models, in plain Python: nothing from Django or the rest of the project.

``normalise`` and ``features`` turn text into hashed n-gram rows; ``train`` fits a logistic
regression per model from ``config/<model>.json`` and ``artifacts`` stores it under
``artifacts/<model>/<version>/`` without pickle; ``scoring`` loads the toxicity and spam models
once per process and returns Perspective-style attribute scores. ``moderation.scoring`` is the
only project module that calls in; ``python -m ml`` trains, scores CSVs and evaluates.
"""
