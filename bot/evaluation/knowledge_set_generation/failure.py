"""What a failure mode's template gives a runbook: its values and both languages' text."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from bot.evaluation.knowledge_set_generation.world import System


@dataclass(frozen=True)
class Failure:
    """One failure mode of one system, in both languages.

    Args:
        values: the mode's own placeholders for `en` and `zh` (besides the system's).
        message: the error line the runbook quotes.
        keywords: strings an answer drawn from the runbook contains.
        titles: the English and the Chinese title.
        symptoms: how a user describes it, in English and in Chinese.
        en, zh: the runbook's body in each language, with `{placeholders}`.
    """

    values: dict[str, str]
    message: str
    keywords: list[str]
    titles: tuple[str, str]
    symptoms: tuple[str, str]
    en: str
    zh: str


Template = Callable[[System, str, str, random.Random, bool], Failure]
"""A mode's template: (system, its error code, its `acmectl` command, the generator, Chinese?)."""
