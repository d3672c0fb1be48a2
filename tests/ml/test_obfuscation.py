import random

from ml.normalise import normalise_text
from ml.obfuscation import (
    PERTURBATIONS,
    double_or_drop_letter,
    leetspeak,
    look_alike_letters,
    obfuscate_positives,
    obfuscate_text,
    space_or_dot_letters,
    zero_width_inside,
)

INSULT = "you are a worthless idiot and a pathetic clown, shut up"


def test_it_changes_one_word_in_three() -> None:
    obfuscated = obfuscate_text(INSULT)
    words = INSULT.replace(",", "").split()
    assert obfuscated != INSULT
    assert sum(word not in obfuscated for word in words) <= -(-len(words) // 3)


def test_it_gives_the_same_copy_every_time_and_another_with_another_seed() -> None:
    assert obfuscate_text(INSULT) == obfuscate_text(INSULT)
    assert obfuscate_text(INSULT, seed=1) != obfuscate_text(INSULT, seed=2) or obfuscate_text(
        INSULT, seed=3
    ) != obfuscate_text(INSULT, seed=1)


def test_it_perturbs_only_the_positive_rows() -> None:
    texts = ["thanks for the article", INSULT]
    copy = obfuscate_positives(texts, [0, 1])
    assert copy[0] == texts[0]
    assert copy[1] != texts[1]


def test_it_leaves_text_without_words_alone() -> None:
    assert obfuscate_text("!!! 123 ...") == "!!! 123 ..."


def test_it_applies_the_listed_perturbations() -> None:
    rng = random.Random(0)
    assert len(PERTURBATIONS) == 5
    assert double_or_drop_letter("idiot", rng) in {
        "iidiot",
        "idiiot",
        "iddiot",
        "idioot",
        "idiott",
        "diot",
        "iiot",
        "idot",
        "idit",
        "idio",
    }
    assert space_or_dot_letters("idiot", rng) in {"i d i o t", "i.d.i.o.t"}
    assert set(leetspeak("idiot", rng)) <= set("1!d0o7t")
    assert look_alike_letters("idiot", rng) != "idiot"
    assert zero_width_inside("idiot", rng).count("\u200b") + zero_width_inside("idiot", rng).count("\u2060") >= 0
    assert len(zero_width_inside("idiot", rng)) == 7


def test_it_is_mostly_undone_by_normalisation() -> None:
    rng = random.Random(1)
    for perturb in (space_or_dot_letters, leetspeak, look_alike_letters, zero_width_inside):
        assert normalise_text(perturb("idiot", rng)) == "idiot", perturb.__name__
