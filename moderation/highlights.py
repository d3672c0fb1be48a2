# ruff: noqa: RUF001 (Cyrillic function words are part of this module's lists)
"""Which explained words the queue highlights: the ones that carry meaning, not "a", "my" or a comma.

The models read characters, so a function word next to an insult gets some of its weight; marking
it only makes a moderator read more. A span is dropped when it has no letter or digit, or when
every word in it is a single character or a function word of English or of the comment's language
(the lists are short on purpose: pronouns, articles, prepositions, conjunctions, auxiliaries; never
a word that could carry an insult or a threat on its own).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_WORD = re.compile(r"\w+")

FUNCTION_WORDS: dict[str, frozenset[str]] = {
    language: frozenset(words.split())
    for language, words in {
        "en": "a an the and or nor but if of to in on at by for with from up down out off over into onto about as "
        "is am are was were be been being do does did have has had i me my mine you your yours he him his she "
        "her hers it its we us our ours they them their theirs this that these those there here so not no just "
        "than then too very can will would should could may might must what which who whom whose when where "
        "why how all any some each both such only also ll re ve don doesn didn isn aren wasn im",
        "de": "der die das den dem des ein eine einen einem einer und oder aber wenn von zu in im an am auf mit "
        "für aus bei ist sind war bin bist ich du er sie es wir ihr mein dein sein nicht so auch nur",
        "fr": "le la les un une des du de et ou mais si à au aux en dans sur par pour avec est sont je tu il "
        "elle on nous vous ils elles mon ma mes ton ta tes son sa ses ce cette ces qui que ne pas",
        "es": "el la los las un una unos unas y o pero si de del a al en con por para es son yo tu él ella "
        "nosotros mi mis su sus lo le les se que no",
        "it": "il lo la i gli le un una uno e o ma se di a da in con su per è sono io tu lui lei noi voi mio "
        "mia tuo tua suo sua che non del della",
        # Serbian, Croatian and Bosnian (one language, Latin and Cyrillic), Macedonian and Bulgarian.
        "sr": "i a u na za od do sa s k ka o po iz je su sam si smo ste biti ja ti on ona ono mi vi oni moj "
        "tvoj njegov njen to taj ta da li ne se što sto ili ali "
        "и а у на за од до са с к ка о по из је су сам си смо сте бити ја ти он она оно ми ви они мој "
        "твој његов њен то тај та да ли не се што или али",
        "mk": "и а во на за од до со с кон по од е се сум си сме сте јас ти тој таа тоа ние вие тие мој твој "
        "да ли не што или ама",
        "bg": "и а в във на за от до с със към по из е са съм си сме сте аз ти той тя то ние вие те мой твой "
        "да ли не се че или но",
        "sq": "e dhe në nga për me në te tek i të së u një është janë jam je ai ajo ata ato unë ti ne ju im "
        "yt se që nuk por ose",
    }.items()
}
FUNCTION_WORDS |= {"hr": FUNCTION_WORDS["sr"], "bs": FUNCTION_WORDS["sr"]}


def carries_weight(text: str, *, language: str = "") -> bool:
    """Whether a highlighted span is worth a moderator's eye (see the module's docstring)."""
    words = [word.lower() for word in _WORD.findall(text)]
    function_words = FUNCTION_WORDS["en"] | FUNCTION_WORDS.get(language, frozenset())
    return any(len(word) > 1 and word not in function_words for word in words)


def spans_worth_highlighting(spans: Iterable[dict[str, Any]], *, language: str = "") -> list[dict[str, Any]]:
    return [span for span in spans if carries_weight(str(span.get("text", "")), language=language)]
