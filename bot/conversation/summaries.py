"""Hand-over summaries of a thread, written by the model for the human who takes it over."""

from __future__ import annotations

from bot.conversation.history import HistoryStore, render_transcript
from bot.conversation.prompting import fence_user_text, load_prompt, neutralise_special_tokens
from bot.conversation.turns import ThreadKey
from bot.engine.protocol import Engine
from bot.engine.request import ChatMessage, GenerationRequest, Role, TextPart
from bot.safety.filters import ReplyFilter

SUMMARY_PROMPT = "escalation_summary"
SUMMARY_VERSION = 1


class ThreadSummarizer:
    """Summarises a thread's text history (screenshots were already read into the answers).

    Args:
        engine: runs the model.
        history: where the thread is kept.
        reply_filter: the summary is filtered like any answer.
        max_new_tokens: length cap of the summary.
    """

    def __init__(
        self,
        *,
        engine: Engine,
        history: HistoryStore,
        reply_filter: ReplyFilter,
        max_new_tokens: int = 256,
    ) -> None:
        self._engine = engine
        self._history = history
        self._filter = reply_filter
        self._max_new_tokens = max_new_tokens
        self._system = load_prompt(SUMMARY_PROMPT, SUMMARY_VERSION).render()

    async def summarize(self, thread: ThreadKey) -> str:
        entries = await self._history.load(thread)
        transcript = render_transcript(entries, assistant="Bot")
        request = GenerationRequest(
            messages=(
                ChatMessage(Role.SYSTEM, (TextPart(self._system),)),
                ChatMessage(
                    Role.USER,
                    (
                        TextPart(
                            neutralise_special_tokens(fence_user_text(transcript or "(empty)"))
                        ),
                    ),
                ),
            ),
            max_new_tokens=self._max_new_tokens,
        )
        stream = self._filter.open()
        parts = [
            stream.feed(piece)
            async for piece in self._engine.stream(request)
            if isinstance(piece, str)
        ]
        parts.append(stream.finish())
        return "".join(parts).strip()
