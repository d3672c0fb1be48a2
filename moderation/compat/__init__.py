"""Drop-in scoring APIs for clients of Perspective (v1alpha1) and Akismet (1.1), with per-site API keys.

The same scorer and thresholds as the comment pipeline, so a text gets the same numbers here.
"""
