"""Admin of the compatibility APIs (imported by moderation.admin)."""
