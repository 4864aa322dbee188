"""One request as the scheduler sees it: its tokens so far and where its output goes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field

from bot.engine.encoder_cache import HeldEncodings
from bot.engine.prepared import PreparedPrompt
from bot.engine.request import GenerationRequest


@dataclass(frozen=True)
class Started:
    """Sent once the request has joined the running batch."""


@dataclass(frozen=True)
class Finished:
    """Sent after the last token: how many new tokens were made."""

    new_tokens: int


@dataclass(eq=False)
class Sequence:
    """A request in line or in the batch.

    `tokens` holds the prompt and every token chosen since; its `slot` in the
    decode cache holds keys and values for the first `cached` of them. While decoding,
    `cached == len(tokens) - 1`: the last chosen token is fed on the next step.
    `send` is thread-safe and delivers `Queued`, `Started`, token ids, `Finished`
    or an exception to the consumer, in order.
    """

    request: GenerationRequest
    prepared: Future[PreparedPrompt]
    send: Callable[[object], None]
    max_new_tokens: int
    min_new_tokens: int = 0
    cancelled: threading.Event = field(default_factory=threading.Event)
    tokens: list[int] = field(default_factory=list)
    cached: int = 0
    slot: int = -1  # its row in the decode cache while it is in the batch
    prompt_length: int = 0
    joined_at: float = field(default_factory=time.monotonic)
    told_ahead: int = 0
    ending: bool = False  # its last token is chosen; it leaves the batch this round
    done: bool = False
    encoded: HeldEncodings | None = None  # screenshots encoded ahead, until its prefill

    @property
    def prompt(self) -> PreparedPrompt:
        return self.prepared.result()

    @property
    def new_tokens(self) -> int:
        return len(self.tokens) - self.prompt_length

    @property
    def reserved_tokens(self) -> int:
        """Cache room it may need: its prompt plus its longest answer."""
        return len(self.prompt) + self.max_new_tokens

    def start(self) -> None:
        if not self.tokens:
            self.tokens = list(self.prompt.token_ids)
            self.prompt_length = len(self.tokens)
            self.send(Started())

    def evicted(self) -> None:
        """Its cache rows were dropped; the next prefill recomputes everything it has."""
        self.cached = 0

    def finish(self, outcome: object | None = None) -> None:
        if not self.done:
            self.done = True
            self.send(outcome if outcome is not None else Finished(self.new_tokens))
