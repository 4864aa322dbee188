"""An answer's steps as Slack's task cards: `task_update` chunks of the streaming methods.

https://docs.slack.dev/reference/methods/chat.appendStream ("Using the chunks parameter"):
a `task_update` chunk has an `id`, a `title`, a `status` (`pending`, `in_progress`,
`complete`, `error`) and optional `sources` (URL source elements, `{"type": "url", "url",
"text"}`: https://docs.slack.dev/reference/block-kit/block-elements/url-source-element);
a later chunk with the same id updates that card. Cards show only in a streamed message,
so without streaming the status line names the current step instead.

Bounded: the cards are sent at most `MAX_STEP_UPDATES` times per answer (the steps known
when the stream starts, then their end state), whatever the number of steps or pieces.

Every card shown ends in a final state: complete with the answer, error when it breaks off.
An answer that fails before its first word (the engine refuses, a deadline passes) shows
its steps once, already ended: the ones under way in error, or when none was, the answer's
writing, which is then the step that broke.
"""

from __future__ import annotations

from typing import Any

from bot.conversation.steps import Step, StepStatus
from bot.messages import Language, Message, say
from handlers.mrkdwn import escape

# The steps known at the stream's start, then the end state: two calls per answer.
MAX_STEP_UPDATES = 2
WRITING = "write-answer"
# Slack documents no title limit; the SDKs' card texts stop at 256 characters.
TITLE_LIMIT = 256
MAX_SOURCES = 8
_UNDER_WAY = (StepStatus.PENDING, StepStatus.IN_PROGRESS)


def _title(text: str) -> str:
    shown = escape(" ".join(text.split()))
    return shown if len(shown) <= TITLE_LIMIT else shown[: TITLE_LIMIT - 1] + "…"


def task_chunk(step: Step) -> dict[str, Any]:
    """`step` as Slack's `task_update` chunk."""
    chunk: dict[str, Any] = {
        "type": "task_update",
        "id": step.id,
        "title": _title(step.title),
        "status": step.status.value,
    }
    # Only web links become sources: a card must not offer a `javascript:` or `file:` link.
    sources = [s for s in step.sources if s.url.startswith(("https://", "http://"))]
    if sources:
        chunk["sources"] = [
            {"type": "url", "url": s.url, "text": _title(s.text)} for s in sources[:MAX_SOURCES]
        ]
    return chunk


class AnswerSteps:
    """The steps of one answer, in the order they were first reported.

    `record` is the use case's progress callback (synchronous: it only remembers);
    the thread reply sends `opening` once its stream exists and `closing` at the end.
    """

    def __init__(self, language: Language) -> None:
        self._steps: dict[str, Step] = {}
        self._language = language
        self._ended = False  # the cards' end state was sent
        self.updates = 0  # how many times the cards were sent for this answer

    def record(self, step: Step) -> None:
        """Remember `step` (a later report of the same id replaces the earlier)."""
        self._steps[step.id] = step

    @property
    def current(self) -> Step | None:
        """The latest step still under way, for the status line (a finished one would say
        the bot is doing what it has done)."""
        going = (s for s in reversed(self._steps.values()) if s.status in _UNDER_WAY)
        return next(going, None)

    def opening(self) -> list[dict[str, Any]] | None:
        """The cards for a stream that has just started: the steps so far, and the answer
        being written; None when the cards were sent already."""
        if self.updates:
            return None
        self.record(
            Step(WRITING, say(Message.STEP_WRITING, self._language), StepStatus.IN_PROGRESS)
        )
        return self._send()

    def closing(self, status: StepStatus) -> list[dict[str, Any]] | None:
        """Every unfinished step set to `status` (complete, or error); None when no card
        was shown or the end was sent already."""
        if self.updates != 1 or self._ended:
            return None
        self._end(status)
        return self._send()

    def failed(self) -> list[dict[str, Any]] | None:
        """The cards of an answer that failed before its first word, all ended; None when
        no step was reported (nothing to show) or the cards were sent already."""
        if self.updates or not self._steps:
            return None
        if self.current is None:  # everything reported had finished: the writing broke
            self.record(Step(WRITING, say(Message.STEP_WRITING, self._language), StepStatus.ERROR))
        self._end(StepStatus.ERROR)
        return self._send()

    def _end(self, status: StepStatus) -> None:
        for step in list(self._steps.values()):
            if step.status in _UNDER_WAY:
                self.record(Step(step.id, step.title, status, step.sources))
        self._ended = True

    def _send(self) -> list[dict[str, Any]]:
        self.updates += 1
        assert self.updates <= MAX_STEP_UPDATES
        return [task_chunk(step) for step in self._steps.values()]


def step_line(step: Step) -> str:
    """`step` for the status line or placeholder: escaped, so a file name forms no mention."""
    return _title(step.title) + "…"
