"""The one use case: a user's turn in, a safe diagnosis out. No transport inside.

turn → read attachments → history → prompt → engine → filter → answer pieces,
then the assistant turn is saved. Transports render the events it yields.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace

from bot.attachments.fetching import AttachmentFetcher
from bot.attachments.image_budget import ImageBudget, fit_images
from bot.attachments.text_files import Excerpt, fit_tokens
from bot.conversation.channel_policy import ChannelPolicy
from bot.conversation.error_lines import ErrorLineReader, too_few_terms
from bot.conversation.grounding import Retriever, knowledge_query, sources_footer
from bot.conversation.history import HistoryStore
from bot.conversation.knowledge import KnowledgeBase, Resolution, conversation_scopes
from bot.conversation.prompting import PromptBuilder
from bot.conversation.steps import (
    Progress,
    ignore,
    reading_steps,
    searched_step,
    searching_step,
)
from bot.conversation.turns import (
    AttachmentKind,
    AttachmentNote,
    AttachmentRef,
    HistoryEntry,
    Screenshot,
    SkippedAttachment,
    Speaker,
    TextFile,
    ThreadKey,
    Turn,
)
from bot.engine.protocol import Engine
from bot.engine.request import ChatMessage, GenerationRequest, Queued, Role, TextPart
from bot.errors import AttachmentError
from bot.knowledge.citations import cited
from bot.knowledge.passages import Passage
from bot.messages import Language, Message, detect_language, say
from bot.safety.filters import ReplyFilter
from bot.safety.redaction import Redactor

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class AttachmentsRead:
    """All attachments were tried: how many images the model will see, and what was skipped.

    `notices` are sentences for the user about files that were read only in part
    (a long log cut, an image shrunk so far its small text may be unreadable).
    """

    screenshots: int
    skipped: tuple[SkippedAttachment, ...]
    language: Language
    notices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Consulted:
    """Past resolutions from the team that the prompt includes, best first."""

    references: tuple[Resolution, ...]


@dataclass(frozen=True)
class Waiting:
    """The request waits for the model; `ahead` requests are before it."""

    ahead: int


@dataclass(frozen=True)
class AnswerPiece:
    """More of the answer, already filtered."""

    text: str


@dataclass(frozen=True)
class Diagnosis:
    """The finished, filtered answer."""

    answer: str
    skipped: tuple[SkippedAttachment, ...]
    language: Language
    references: tuple[Resolution, ...] = ()
    notices: tuple[str, ...] = ()
    # The knowledge-base passages the prompt held, numbered from 1 as the answer cites them.
    passages: tuple[Passage, ...] = ()
    # Which of them the model's own words cite ([1] is the first), before the sources list.
    citations: tuple[int, ...] = ()


@dataclass(frozen=True)
class QuestionShortened:
    """The question did not fit the model's context: `kept` of its `total` characters were
    read (its start and its end), so the answer has room."""

    kept: int
    total: int


DiagnosisEvent = AttachmentsRead | QuestionShortened | Consulted | Waiting | AnswerPiece | Diagnosis


class Diagnoser:
    """Answers a `Turn`, keeping the thread's history.

    Args:
        engine: runs the model.
        history: where the thread's earlier turns (and screenshots) are kept.
        fetcher: downloads and validates attachments.
        prompts: builds the model's messages.
        reply_filter: makes each piece of the answer safe to show.
        redactor: cleans the user's own text before it is prompted, stored or logged.
        max_images_per_turn: attachments past this count are skipped, and said so.
        image_budget: pixels per screenshot, and for all screenshots of one message.
        max_text_tokens: prompt tokens all text files of one message may take together.
        knowledge: past resolutions to draw on, when any are like the question.
        retriever: the team's knowledge base, asked once per question before the prompt.
        error_lines: with a retriever, reads the error line of screenshots that came with
            too few words to search by (one short model pass per image, cached).
        channel_policy: per channel, which knowledge sources it may draw on and whether
            it is answered only from a source.
        queue_timeout: seconds a request may wait for the model.
        generation_timeout: seconds an answer may take once the model is on it.

    Example:
        >>> async for event in diagnoser.diagnose(turn):
        ...     if isinstance(event, Diagnosis): print(event.answer)
    """

    def __init__(
        self,
        *,
        engine: Engine,
        history: HistoryStore,
        fetcher: AttachmentFetcher,
        prompts: PromptBuilder,
        reply_filter: ReplyFilter,
        redactor: Redactor | None = None,
        max_images_per_turn: int = 8,
        image_budget: ImageBudget | None = None,
        max_text_tokens: int = 4096,
        knowledge: KnowledgeBase | None = None,
        retriever: Retriever | None = None,
        error_lines: ErrorLineReader | None = None,
        channel_policy: ChannelPolicy | None = None,
        queue_timeout: float | None = None,
        generation_timeout: float | None = None,
    ) -> None:
        self._engine = engine
        self._history = history
        self._fetcher = fetcher
        self._prompts = prompts
        self._filter = reply_filter
        self._redactor = redactor or Redactor()
        self._max_images = max_images_per_turn
        self._image_budget = image_budget or ImageBudget()
        self._max_text_tokens = max_text_tokens
        self._knowledge = knowledge
        self._retriever = retriever
        self._error_lines = error_lines
        self._policy = channel_policy or ChannelPolicy()
        self._queue_timeout = queue_timeout
        self._generation_timeout = generation_timeout

    async def diagnose(
        self, turn: Turn, *, progress: Progress = ignore
    ) -> AsyncIterator[DiagnosisEvent]:
        """Answer `turn`; each step (files read, runbooks searched) is told to `progress`."""
        # A secret in a file name is neither stored (history, screenshots) nor echoed.
        named = tuple(
            replace(ref, filename=self._redactor.redact(ref.filename, count=False))
            for ref in turn.attachments
        )
        turn = replace(turn, attachments=named)
        language = turn.language or detect_language(turn.text)
        read = await self._read_attachments(turn, language)
        for step in reading_steps(read.listing, language):
            progress(step)
        yield AttachmentsRead(len(read.screenshots), read.skipped, language, read.notices)
        skipped = read.skipped

        question = HistoryEntry(
            Speaker.USER,
            await self._redactor.redact_off_loop(turn.text.strip())
            or say(Message.DEFAULT_QUESTION, language),
            read.screenshots,
            read.listing,
        )
        past = await self._history.load(turn.thread)
        references = await self._consult(question.text, turn.thread)
        if self._retriever is not None:
            progress(searching_step(language))
        retrieved = await self._retrieve(turn, question, past)
        if retrieved is not None:
            progress(searched_step(((p.title, p.url) for p in retrieved), language))
        notices = read.notices
        if retrieved is not None and not retrieved and not references:
            if self._policy.rules_for(turn.thread.space).answer_only_with_source:
                # Nothing to ground an answer in, and this channel wants no guesses.
                answer = say(Message.NO_SOURCE_ANSWER, language)
                await self._history.append(turn.thread, question)
                await self._history.append(turn.thread, HistoryEntry(Speaker.ASSISTANT, answer))
                yield Diagnosis(answer, skipped, language, (), notices)
                return
            notices += (say(Message.NO_RUNBOOK_MATCHED, language),)
        passages = retrieved or ()
        question, total, passages = await asyncio.to_thread(
            self._fit_question, question, language, references, passages
        )
        if total:
            yield QuestionShortened(len(question.text), total)
        if references:
            yield Consulted(references)
        # The model answers in the language of the question; the bot's own sentences
        # follow the channel's or user's setting.
        answer_language = detect_language(turn.text) if turn.text.strip() else language
        request = await asyncio.to_thread(
            self._fit_prompt, past, question, answer_language, references, passages
        )
        request = replace(request, reuse_key=turn.thread.as_key())
        await self._history.append(turn.thread, question)

        stream = self._filter.open()
        shown: list[str] = []
        async for piece in self._engine.stream(request):
            if isinstance(piece, Queued):
                yield Waiting(piece.ahead)
            elif safe := stream.feed(piece):
                shown.append(safe)
                yield AnswerPiece(safe)
        if tail := stream.finish():
            shown.append(tail)
            yield AnswerPiece(tail)

        answer = "".join(shown).strip() or say(Message.EMPTY_ANSWER, language)
        citations = cited(answer, passages)
        if passages:
            answer += "\n\n" + sources_footer(passages, language)
        await self._history.append(turn.thread, HistoryEntry(Speaker.ASSISTANT, answer))
        yield Diagnosis(answer, skipped, language, references, notices, passages, citations)

    async def _retrieve(
        self, turn: Turn, question: HistoryEntry, past: list[HistoryEntry]
    ) -> tuple[Passage, ...] | None:
        """The passages this conversation may be answered from; None when there is no
        knowledge base, or it could not be asked (the answer must not depend on it)."""
        if self._retriever is None:
            return None
        rules = self._policy.rules_for(turn.thread.space)
        query = knowledge_query(question.text, question.attachments)
        # The default question that stands in for no words is no search words.
        own = knowledge_query(question.text if turn.text.strip() else "", question.attachments)
        if self._error_lines is not None and too_few_terms(own):
            # This message's screenshots, or else the thread's latest (a follow-up
            # such as "still failing": its line is cached, so it costs nothing).
            shots = question.screenshots or next(
                (entry.screenshots for entry in reversed(past) if entry.screenshots), ()
            )
            if line := await self._error_lines.read(shots):
                query = f"{own}\n{line}" if own else line
        try:
            found = await self._retriever.retrieve(
                query,
                channel=turn.thread.space,
                sources=rules.knowledge_sources,
                scopes=conversation_scopes(turn.thread.place, turn.thread.space),
            )
        except Exception:
            log.exception("could not search the knowledge base")
            return None
        return tuple(found)

    async def _consult(self, question: str, thread: ThreadKey) -> tuple[Resolution, ...]:
        if self._knowledge is None:
            return ()
        try:
            where = (thread.place, thread.space)
            return tuple(await self._knowledge.similar(question, limit=3, where=where))
        except Exception:  # knowledge is a bonus; the answer must not depend on it
            log.exception("could not search past resolutions")
            return ()

    def _fit_question(
        self,
        question: HistoryEntry,
        language: Language,
        references: tuple[Resolution, ...],
        passages: tuple[Passage, ...] = (),
    ) -> tuple[HistoryEntry, int, tuple[Passage, ...]]:
        """`question`, cut to its start and end if alone it leaves the answer no room; how
        long it was when cut (0 when it fits); and the passages that fit beside it (the
        weakest go first, and they never take more than half the room)."""
        answer_room = self._prompts.max_new_tokens or 0
        budget = self._engine.context_window - answer_room
        bare = self._engine.count_tokens(self._prompts.build([], question, language))
        while passages:
            request = self._prompts.build([], question, language, passages=passages)
            if self._engine.count_tokens(request) - bare <= budget // 2:
                break
            passages = passages[:-1]

        def fits(entry: HistoryEntry) -> bool:
            request = self._prompts.build(
                [], entry, language, references=references, passages=passages
            )
            return self._engine.count_tokens(request) <= budget

        text = question.text
        if fits(question):
            return question, 0, passages
        low, high = 0, len(text)
        while low < high:  # the most characters that fit: about log2(len) measurements
            middle = (low + high + 1) // 2
            if fits(replace(question, text=shortened(text, middle))):
                low = middle
            else:
                high = middle - 1
        log.info("question of %d characters cut to %d to fit the context", len(text), low)
        return replace(question, text=shortened(text, low)), len(text), passages

    def _fit_prompt(
        self,
        past: list[HistoryEntry],
        question: HistoryEntry,
        language: Language,
        references: tuple[Resolution, ...] = (),
        passages: tuple[Passage, ...] = (),
    ) -> GenerationRequest:
        answer_room = self._prompts.max_new_tokens or 0
        request = self._prompts.build(
            past,
            question,
            language,
            measure=self._engine.count_tokens,
            budget=self._engine.context_window - answer_room,
            references=references,
            passages=passages,
        )
        return replace(
            request,
            queue_timeout=self._queue_timeout,
            generation_timeout=self._generation_timeout,
        )

    async def _read_attachments(self, turn: Turn, language: Language) -> _ReadAttachments:
        """Every attachment, in the user's order: shown, read as text, or listed as unread."""
        wanted = turn.attachments[: self._max_images]
        results = await asyncio.gather(
            *(self._fetcher.fetch(ref) for ref in wanted), return_exceptions=True
        )
        outcomes: list[Screenshot | TextFile | _Unread] = []
        for ref, result in zip(wanted, results, strict=True):
            if isinstance(result, Screenshot | TextFile):
                outcomes.append(result)
            elif isinstance(result, AttachmentError):
                log.info("skipped attachment %s: %s", ref.filename, result)
                outcomes.append(self._unread(ref, language, result.reason, **result.values))
            else:  # one file's unexpected failure skips that file, never the answer
                reference = uuid.uuid4().hex[:8]
                log.error(
                    "reading attachment %s failed (reference %s)",
                    ref.filename,
                    reference,
                    exc_info=result,
                )
                outcomes.append(
                    self._unread(ref, language, Message.REASON_UNEXPECTED, reference=reference)
                )
        outcomes += [
            self._unread(ref, language, Message.REASON_TOO_MANY, limit=self._max_images)
            for ref in turn.attachments[self._max_images :]
        ]
        shots = [o for o in outcomes if isinstance(o, Screenshot)]
        fitted = iter(await asyncio.to_thread(fit_images, shots, self._image_budget))
        texts = sum(isinstance(o, TextFile) for o in outcomes)
        share = max(256, self._max_text_tokens // max(1, texts))
        read = _ReadAttachments()
        for outcome in outcomes:
            name = self._redactor.redact(outcome.filename)
            if isinstance(outcome, Screenshot):
                image = next(fitted)
                read.screenshots += (image.screenshot,)
                note = "" if image.scale >= 1 else f"shrunk to {image.scale:.0%} of its usual size"
                if not image.legible:
                    note += "; small text in it may be unreadable"
                    read.notices += (
                        say(
                            Message.IMAGE_SHRUNK,
                            language,
                            filename=outcome.filename,
                            percent=round(image.scale * 100),
                            count=len(shots),
                        ),
                    )
                read.listing += (AttachmentNote(name, AttachmentKind.IMAGE, note),)
            elif isinstance(outcome, TextFile):
                cut = await asyncio.to_thread(self._excerpt, outcome.text, share)
                if cut.cut:
                    read.notices += (
                        say(
                            Message.TEXT_FILE_CUT,
                            language,
                            filename=outcome.filename,
                            lines=f"{cut.lines:,}",
                        ),
                    )
                text = cut.text if cut.text.strip() else "(empty file)"
                read.listing += (AttachmentNote(name, AttachmentKind.TEXT, cut.cut, text),)
            else:
                read.skipped += (SkippedAttachment(outcome.filename, outcome.reason),)
                read.listing += (AttachmentNote(name, AttachmentKind.UNREAD, outcome.model_reason),)
        return read

    @staticmethod
    def _unread(
        ref: AttachmentRef, language: Language, reason: Message, **values: object
    ) -> _Unread:
        return _Unread(
            ref.filename,
            say(reason, language, **values),
            model_reason=say(reason, Language.ENGLISH, **values),
        )

    def _excerpt(self, text: str, max_tokens: int) -> Excerpt:
        """A text file's excerpt, redacted: whole files first, so no cut splits a secret."""
        if len(text) <= _REDACT_WHOLE_CHARS:
            text = self._redactor.redact(text)
            return fit_tokens(text, max_tokens=max_tokens, count=self._count_text)
        cut = fit_tokens(text, max_tokens=max_tokens, count=self._count_text)
        return replace(cut, text=self._redactor.redact(cut.text))

    def _count_text(self, text: str) -> int:
        message = ChatMessage(Role.USER, (TextPart(text),))
        return self._engine.count_tokens(GenerationRequest(messages=(message,)))


# Text files up to this size are redacted whole before they are cut, so a key
# split by a cut is still found; larger ones are cut first, then redacted.
_REDACT_WHOLE_CHARS = 2_000_000


@dataclass(frozen=True)
class _Unread(SkippedAttachment):
    model_reason: str = ""  # the same reason in English, for the prompt


@dataclass
class _ReadAttachments:
    screenshots: tuple[Screenshot, ...] = ()
    listing: tuple[AttachmentNote, ...] = ()
    skipped: tuple[SkippedAttachment, ...] = ()
    notices: tuple[str, ...] = ()


def shortened(text: str, keep: int) -> str:
    r"""`text` cut to about `keep` characters: its first two thirds and last third, with a
    marker saying how much was left out in between (the end of a log is often the error).

    Example:
        >>> shortened("a" * 10 + "b" * 10, 6)
        'aaaa\n[… 14 characters left out …]\nbb'
    """
    if keep >= len(text):
        return text
    head = keep * 2 // 3
    tail = keep - head
    end = text[len(text) - tail :] if tail else ""
    return f"{text[:head]}\n[… {len(text) - keep} characters left out …]\n{end}"
