"""The names the models give the world: model names and the attributes they score.

Defined once here; the Django apps, the compatibility APIs and the training configs use these.
Which attributes a deployment scores is the active models' word (``Scorer.attributes``); this is
the list of every attribute any model of ours may produce.
"""

import enum

TOXICITY_MODEL = "toxicity"
SPAM_MODEL = "spam"
MODEL_NAMES = (TOXICITY_MODEL, SPAM_MODEL)


class Attribute(enum.StrEnum):
    """Perspective's attribute names, and ``SPAM``."""

    TOXICITY = "TOXICITY"
    SEVERE_TOXICITY = "SEVERE_TOXICITY"
    INSULT = "INSULT"
    PROFANITY = "PROFANITY"
    THREAT = "THREAT"
    IDENTITY_ATTACK = "IDENTITY_ATTACK"
    SEXUALLY_EXPLICIT = "SEXUALLY_EXPLICIT"
    SPAM = "SPAM"


# The attribute each model is named for: the one its labels (moderators', API clients') teach.
MAIN_ATTRIBUTE: dict[str, Attribute] = {TOXICITY_MODEL: Attribute.TOXICITY, SPAM_MODEL: Attribute.SPAM}
