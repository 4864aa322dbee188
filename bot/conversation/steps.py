"""The steps of one answer, as the user may see them while the bot works.

The use case reports a `Step` each time one begins or ends (reading the files, searching
runbooks); transports show them where they can (Slack's task cards) and ignore them
elsewhere. A step is named by a stable `id`, so a later report of the same id replaces
the earlier one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from bot.conversation.turns import AttachmentKind, AttachmentNote
from bot.messages import Language, Message, say


class StepStatus(StrEnum):
    """Where a step stands; the same four states Slack's task cards know."""

    PENDING = "pending"
    IN_PROGRESS = "in_progress"
    COMPLETE = "complete"
    ERROR = "error"


@dataclass(frozen=True)
class StepSource:
    """Something a step drew on that the user can open (a runbook page)."""

    url: str
    text: str


@dataclass(frozen=True)
class Step:
    """One step of an answer: a stable id, a title for the user, and where it stands."""

    id: str
    title: str
    status: StepStatus
    sources: tuple[StepSource, ...] = ()


Progress = Callable[[Step], None]


def ignore(step: Step) -> None:
    """The default progress report: nobody is watching."""


def reading_steps(listing: Iterable[AttachmentNote], language: Language) -> list[Step]:
    """The finished reading steps for a message's attachments: one for all screenshots,
    one per text file (files that could not be read are said so above the answer)."""
    notes = list(listing)
    images = sum(note.kind is AttachmentKind.IMAGE for note in notes)
    steps = []
    if images:
        title = say(Message.STEP_READING_SCREENSHOTS, language, count=images)
        steps.append(Step("read-screenshots", title, StepStatus.COMPLETE))
    texts = [note for note in notes if note.kind is AttachmentKind.TEXT]
    for index, note in enumerate(texts):
        title = say(Message.STEP_READING_FILE, language, filename=note.filename)
        steps.append(Step(f"read-file-{index}", title, StepStatus.COMPLETE))
    return steps


SEARCH_STEP = "search-knowledge"


def searching_step(language: Language) -> Step:
    """The knowledge search, under way."""
    return Step(SEARCH_STEP, say(Message.STEP_SEARCHING, language), StepStatus.IN_PROGRESS)


def searched_step(found: Iterable[tuple[str, str | None]], language: Language) -> Step:
    """The knowledge search, finished: how many documents matched, and the linked ones
    as its sources (`found` holds each passage's title and URL)."""
    documents = dict.fromkeys(found)  # one entry per document, in rank order
    sources = tuple(StepSource(url, title) for title, url in documents if url)
    title = say(Message.STEP_SEARCHED, language, count=len(documents))
    return Step(SEARCH_STEP, title, StepStatus.COMPLETE, sources)
