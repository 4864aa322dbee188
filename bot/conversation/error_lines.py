"""Search words for a screenshot that came with too few of its own: the model copies the
screenshot's error line in a short first pass, once per image.

A bare screenshot ("?", "help", nothing at all) gives retrieval nothing to search
for, though the error line in it names the runbook. So before retrieval, when the
question and its logs hold fewer than `MIN_QUERY_TERMS` search terms, the engine
is asked (through the `Engine` protocol, so a local and a remote model both work)
for that line alone: a dedicated tiny prompt, at most `MAX_NEW_TOKENS` tokens.
The line is screenshot content, as untrusted as the user's words: it is redacted
like them, cut short, and used only as search words (never as instructions; it
enters no prompt). It is kept, redacted, in an `ErrorLineStore` by the image's
content hash: in Redis when there is one, so a follow-up in the same thread, the
same screenshot posted again, on another replica, through the other transport or
after a restart, costs nothing. A store that does not answer costs the pass, never
the answer.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from collections.abc import Sequence
from typing import Protocol

from bot.conversation.prompting import load_prompt
from bot.engine.protocol import Engine
from bot.engine.request import ChatMessage, GenerationRequest, ImagePart, Role, TextPart
from bot.errors import BotError, StoreUnavailable
from bot.knowledge.terms import terms
from bot.safety.redaction import Redactor
from bot.turns import Screenshot

log = logging.getLogger(__name__)

ERROR_LINE_PROMPT = "error_line"
ERROR_LINE_VERSION = 1
# "help", "what is this?", "any idea?" hold at most two terms once stop words go; a
# question naming a component, a step and a symptom holds three.
MIN_QUERY_TERMS = 3
# An error line is one line: 48 tokens hold a code, an exception and its message.
MAX_NEW_TOKENS = 48
MAX_LINE_CHARS = 300
# The first screenshots of a message carry the error; each further one is another pass.
MAX_IMAGES = 2
_ASK = "Copy the error line of this screenshot."
_NOTHING = {"none", "none.", "(none)"}
_SPACES = re.compile(r"\s+")
_HAN = re.compile(r"[\u3400-\u9fff]")


class ErrorLineStore(Protocol):
    """Screenshots' error lines by the image's SHA-256 and the prompt's version ("" when
    the model saw none). Raises `bot.errors.StoreUnavailable` when the store behind it
    does not answer."""

    async def get(self, digest: str, *, version: int) -> str | None: ...

    async def put(self, digest: str, line: str, *, version: int) -> None: ...


def too_few_terms(query: str) -> bool:
    """Whether `query` holds too few search terms to retrieve by.

    Chinese is indexed as overlapping bigrams, so "这是什么错误" alone would make five
    terms; a run of Han characters counts one term per four characters instead.

    Example:
        >>> too_few_terms("what is this?"), too_few_terms("deploy fails at migrate")
        (True, False)
    """
    words = {term for term in terms(query) if not _HAN.match(term)}
    return len(words) + len(_HAN.findall(query)) // 4 < MIN_QUERY_TERMS


def _one_line(text: str) -> str:
    """The model's answer as one short line of printable text."""
    printable = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") else ch for ch in text
    )
    line = _SPACES.sub(" ", printable).strip().strip("`\"'“”")[:MAX_LINE_CHARS]
    return "" if line.lower() in _NOTHING else line


class ErrorLineReader:
    """Reads the error line of screenshots with the model, keeping each image's line.

    Args:
        engine: the model that answers (the same one; no second model is loaded).
        redactor: cleans the line as it cleans the user's words, before it is kept.
        store: where each image's line is kept; shared by every diagnoser of the bot.
        max_new_tokens: the pass's length cap.
        queue_timeout: seconds the pass may wait for the model, as an answer may.
        generation_timeout: seconds the pass may take; past it the question goes on
            without the line.

    Example:
        >>> reader = ErrorLineReader(engine, redactor=Redactor(), store=InMemoryErrorLineStore())
        >>> await reader.read([screenshot])
        'ACME-4012: vault token expired'
    """

    def __init__(
        self,
        engine: Engine,
        *,
        redactor: Redactor,
        store: ErrorLineStore,
        max_new_tokens: int = MAX_NEW_TOKENS,
        queue_timeout: float | None = None,
        generation_timeout: float | None = 60.0,
    ) -> None:
        self._engine = engine
        self._redactor = redactor
        self._max_new_tokens = max_new_tokens
        self._queue_timeout = queue_timeout
        self._timeout = generation_timeout
        self._system = load_prompt(ERROR_LINE_PROMPT, ERROR_LINE_VERSION).render()
        self._store = store
        self.passes = 0  # model passes run, for the doctor and the tests

    async def read(self, screenshots: Sequence[Screenshot]) -> str:
        """The error lines of the first `MAX_IMAGES` screenshots, one per line ("" for
        none); a failed pass is logged and gives no line (and is tried again next time)."""
        lines: list[str] = []
        for shot in screenshots[:MAX_IMAGES]:
            key = hashlib.sha256(shot.data).hexdigest()
            line = await self._kept(key)
            if line is None:
                try:
                    line = await self._transcribe(shot)
                except BotError as error:  # the answer must not depend on this pass
                    log.info("could not read the error line of %s: %s", shot.filename, error)
                    continue
                except Exception:
                    log.exception("reading the error line of %s failed", shot.filename)
                    continue
                await self._keep(key, line)
            if line and line not in lines:
                lines.append(line)
        return "\n".join(lines)

    async def _kept(self, digest: str) -> str | None:
        try:
            return await self._store.get(digest, version=ERROR_LINE_VERSION)
        except StoreUnavailable as error:  # the pass is run again instead
            log.info("could not look up a screenshot's error line: %s", error)
            return None

    async def _keep(self, digest: str, line: str) -> None:
        try:
            await self._store.put(digest, line, version=ERROR_LINE_VERSION)
        except StoreUnavailable as error:  # this answer has its line; the next pays again
            log.info("could not keep a screenshot's error line: %s", error)

    async def _transcribe(self, shot: Screenshot) -> str:
        self.passes += 1
        image = ImagePart(data=shot.data, name=shot.filename, width=shot.width, height=shot.height)
        request = GenerationRequest(
            messages=(
                ChatMessage(Role.SYSTEM, (TextPart(self._system),)),
                ChatMessage(Role.USER, (image, TextPart(_ASK))),
            ),
            max_new_tokens=self._max_new_tokens,
            queue_timeout=self._queue_timeout,
            generation_timeout=self._timeout,
            greedy=True,  # a copy of what is on screen, not a creative answer
        )
        pieces = [piece async for piece in self._engine.stream(request) if isinstance(piece, str)]
        line = _one_line("".join(pieces))
        return await self._redactor.redact_off_loop(line) if line else ""
