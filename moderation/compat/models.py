"""Models of the compatibility APIs (imported by moderation.models so that Django finds them)."""
