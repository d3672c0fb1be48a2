"""Moderato's models, in plain Python: nothing from Django or the rest of the project.

``normalise`` undoes obfuscation (look-alike letters, leetspeak, spacing, repeats) and keeps a map
back to the original text; ``hashing`` hashes the n-grams of a whole batch in NumPy (or of one text
in plain Python); ``features`` turns text into hashed n-gram rows plus the categories of the
hand-written abuse lexicon (``lexicon``); ``train`` fits a calibrated logistic regression per
attribute from ``config/<model>.json`` and ``artifacts`` stores it under
``artifacts/<model>/<version>/`` without pickle; ``scoring`` loads the toxicity and spam models
(the caller keeps them: ``moderation.scoring`` is the service's one cache) and returns Perspective-style
attribute scores, and ``explanations`` the spans of
the original text that pushed them up. ``obfuscation`` makes the perturbed test copies and
``eval/`` holds hand-written evaluation slices. ``moderation.scoring`` is the only project module
that calls in; ``python -m ml`` trains, scores CSVs and evaluates.
"""
