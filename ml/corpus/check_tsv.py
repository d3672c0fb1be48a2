"""Check one writer's TSV file against README.md's format and print its counts: python3 check_tsv.py FILE."""

import collections
import sys

LANGS = set("en bg sr hr bs mk sq ro el tr de fr es it pl ru uk".split())
CODES = set("TIPAHSXM")
TOPICS = set(
    "kosovo serbia bosnia croatia macedonia albania bulgaria greece turkey romania balkans war warcrimes"
    " ethnic religion migration roma lgbt women crime violence politics elections corruption eu nato"
    " russia ukraine economy energy sport weather culture health education transport local media"
    " commenters tourism tech science".split()
)
KINDS = set(
    "civil civil-hard criticism sarcasm quote-condemn news-violence sources insult profanity identity-slur"
    " identity-dehumanise identity-goback identity-expel identity-generalise threat-explicit threat-veiled"
    " threat-wish harassment-sexual severe hostile spam-clickbait spam-miracle spam-dating spam-replica"
    " spam-seo spam-scam spam-crypto spam-contact spam-casino spam-loans spam-jobs spam-other".split()
)

errors = 0
kinds: collections.Counter[str] = collections.Counter()
langs: collections.Counter[str] = collections.Counter()
for number, line in enumerate(open(sys.argv[1], encoding="utf-8"), 1):
    line = line.rstrip("\n")
    if not line.strip():
        continue
    parts = line.split("\t")
    problem = None
    if len(parts) != 5:
        problem = f"{len(parts)} fields, not 5"
    else:
        lang, labels, topic, kind, text = parts
        if lang not in LANGS:
            problem = f"language {lang!r}"
        elif labels != "0" and (not labels or set(labels) - CODES):
            problem = f"labels {labels!r}"
        elif topic not in TOPICS:
            problem = f"topic {topic!r}"
        elif kind not in KINDS:
            problem = f"kind {kind!r}"
        elif len(text.strip()) < 2:
            problem = "empty text"
        elif "S" in labels and not set(labels) & set("IPAHX"):
            problem = "S without any of I P A H X"
        elif kind.startswith("spam") and "M" not in labels:
            problem = "spam kind without M"
        elif "M" in labels and not kind.startswith("spam"):
            problem = "M on a kind that is not spam"
        else:
            kinds[kind] += 1
            langs[lang] += 1
    if problem:
        errors += 1
        print(f"line {number}: {problem}")
print(f"{sum(kinds.values())} good rows, {errors} bad; languages {dict(langs)}")
print(dict(sorted(kinds.items())))
sys.exit(1 if errors else 0)
