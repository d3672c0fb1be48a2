"""What the learning loop's anchor does: the figures the README quotes for ``ml.retrain``.

    .venv/bin/python bench/learning_anchor.py

With the shipped toxicity model, at its default thresholds:

1. the labels of ``tests/moderation/test_learning.py`` (48 trained on: "you are a glorbnak, comment i"
   toxic, "you are right about comment i, thank you" and "you are a star, comment i made my day" civil)
   fine-tuned with the corpus anchor and without it: the new insult's score, how far the false-positive
   slice moves on average, and how many of its sentences are held at the TOXICITY threshold;
2. thirty civil labels on quoted slurs (ten wordings, three times) given to the INSULT head
   (``fine_tune_civil``): INSULT on a wording the labels do not contain, before and after.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ml.artifacts import load_model  # noqa: E402
from ml.retrain import Anchor, false_positive_slice, fine_tune, fine_tune_civil  # noqa: E402
from ml.scoring import DEFAULT_ARTIFACTS_DIR  # noqa: E402

QUOTED_SLURS = [
    "Calling people 'Shiptars' is a slur and should be banned",
    "The word 'Shiptar' is a slur, the minister should apologise",
    "He called Albanians 'Shiptars' on live TV, that is hate speech",
    "Using 'Shiptar' in a headline is unacceptable, editors",
    "Stop calling our neighbours 'Shiptari', it is an insult",
    "The court fined him for calling a colleague 'Shiptar'",
    "Chanting 'Shiptars out' at a match should mean a ban for the club",
    "My grandfather never used the word 'Shiptar', he said it was shameful",
    "Reporting this: a user keeps calling people 'Shiptars' in the comments",
    "'Shiptar' is not a neutral word, it was always meant to demean",
]
NEW_WORDING = "Calling them 'Shiptars' is a slur"


def main() -> None:
    shipped = load_model(DEFAULT_ARTIFACTS_DIR, "toxicity")
    defaults = shipped.meta.get("default_thresholds", {})
    threshold = defaults["TOXICITY"]["publish"]
    texts, labels = [], []
    for i in range(20):
        texts += [f"you are a glorbnak, comment {i}", f"you are right about comment {i}, thank you"]
        texts += [f"you are a star, comment {i} made my day"]
        labels += [1, 0, 0]
    texts, labels = texts[:48], labels[:48]  # the learning loop holds out the most recent 20 %
    civil = false_positive_slice()
    row = shipped.attributes.index("TOXICITY")
    before = shipped.probabilities(civil)[:, row]
    print(f"{shipped.version}, TOXICITY held at {threshold}; false-positive slice {len(civil)} sentences")
    insult_score = shipped.score("you glorbnak")["TOXICITY"]
    print(f"  shipped: 'you glorbnak' {insult_score:.3f}, held {int((before >= threshold).sum())}")
    for name, anchor in (("with the anchor", None), ("without it", Anchor((), 0.0))):
        candidate = fine_tune(shipped, attribute="TOXICITY", texts=texts, labels=labels, version="x", anchor=anchor)
        after = candidate.probabilities(civil)[:, row]
        print(
            f"  {name}: 'you glorbnak' {candidate.score('you glorbnak')['TOXICITY']:.3f}, slice mean |shift| "
            f"{float(np.mean(np.abs(after - before))):.4f}, held {int((after >= threshold).sum())}"
        )
    insult = shipped.attributes.index("INSULT")
    refitted = fine_tune_civil(shipped, attributes=("INSULT",), texts=QUOTED_SLURS * 3)
    print(
        f"INSULT on {NEW_WORDING!r} (held at {defaults['INSULT']['publish']}): "
        f"{shipped.probabilities([NEW_WORDING])[0, insult]:.3f} shipped, "
        f"{refitted.probabilities([NEW_WORDING])[0, insult]:.3f} after {len(QUOTED_SLURS) * 3} civil labels"
    )


if __name__ == "__main__":
    main()
