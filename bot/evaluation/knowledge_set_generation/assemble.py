"""The whole set, in the order the seeded generator draws it."""

from __future__ import annotations

import random

from bot.evaluation.knowledge_set_generation.articles import articles
from bot.evaluation.knowledge_set_generation.document import Doc
from bot.evaluation.knowledge_set_generation.handwritten import HANDWRITTEN
from bot.evaluation.knowledge_set_generation.runbooks import MODES, PLAUSIBLE, runbook
from bot.evaluation.knowledge_set_generation.world import SEED, SYSTEMS


def build() -> list[Doc]:
    rng = random.Random(SEED)
    docs: list[Doc] = []
    count = 0
    for sys_ in SYSTEMS:
        modes = rng.sample(PLAUSIBLE[sys_.slug], 7)
        if sys_.slug == "vault" and "token" not in modes:
            modes[0] = "token"
        for mode in sorted(modes, key=MODES.__getitem__):
            # Every third generated document is in Chinese.
            docs.append(runbook(sys_, mode, rng, zh=count % 3 == 2))
            count += 1
        flags = [(count + i) % 3 == 2 for i in range(3)]
        docs.extend(articles(sys_, rng, flags))
        count += 3
    docs.extend(HANDWRITTEN)
    return docs
