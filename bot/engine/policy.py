"""Who runs next: the waiting line, admission, batch limits, and backing off after OOM.

The policy decides and the runner (`runner.py`) computes; the scheduler's
thread (`scheduler.py`) asks one and then the other, as vLLM separates its
scheduler from its model runner. Nothing here touches a tensor, so every
decision can be read (and tested) without a model.

Out of GPU memory the batch limit drops to what fitted and grows back by one
every `GROW_BACK_STEPS` decode steps that did not run out.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.engine.request import Queued
from bot.engine.sequence import Sequence
from bot.errors import EngineBusy, GenerationFailed

GROW_BACK_STEPS = 64  # decode steps without running out of memory before the limit grows by one


@dataclass(frozen=True)
class BatchLimits:
    """How much the scheduler runs at once.

    Args:
        max_batch: most requests decoding together.
        token_budget: most prompt + answer tokens reserved by the running batch;
            one request is always admitted, however long.
        prefill_tokens: most (padded) tokens prefilled in one forward pass.
        gather_seconds: how long an idle engine waits for more requests to
            arrive before prefilling, so that a burst is prefilled together.
        max_waiting: most requests waiting or running; more get `EngineBusy`.
        prefill_chunk: a prompt with more new tokens than this, joining while
            answers are being decoded, is prefilled in chunks inside the
            batch's steps; each step carries every running answer's token and
            at most this many prompt tokens, shared by the joiners oldest
            first (0 turns chunking off: joiners are prefilled in one pass).
    """

    max_batch: int = 32
    token_budget: int = 65536
    prefill_tokens: int = 16384
    gather_seconds: float = 0.005
    max_waiting: int = 64
    prefill_chunk: int = 512


class BatchPolicy:
    """The waiting line and the running batch, and the rules for moving between them.

    The scheduler holds its lock around every call that reads or changes
    `pending`, `joining` or `active`.
    """

    def __init__(self, limits: BatchLimits) -> None:
        self.limits = limits
        self.pending: list[Sequence] = []
        self.joining = 0  # admitted and being prefilled
        self.active: list[Sequence] = []
        self.batch_limit = limits.max_batch
        self._steps_since_oom = 0
        self._seconds_per_request = 10.0  # moving average, for the busy estimate

    # ----- the line -----

    def in_line(self) -> int:
        """Requests waiting, joining the batch, or in it."""
        return len(self.pending) + self.joining + len(self.active)

    def check_room(self) -> None:
        """Raise `EngineBusy` (with a retry estimate) when no more requests may wait."""
        if self.in_line() >= self.limits.max_waiting:
            rounds = (len(self.pending) + 1) / max(1, self.batch_limit)
            raise EngineBusy(max(1, math.ceil(self._seconds_per_request * rounds)))

    def any_ready(self) -> bool:
        """Whether a waiting request is prepared (or cancelled) and so needs the thread."""
        return any(s.prepared.done() or s.cancelled.is_set() for s in self.pending)

    def burst_gathered(self) -> bool:
        """Stop gathering: the batch is full, or nothing in line is still being prepared.

        Waiting longer can only gather requests already in line; a request alone
        (every cold first token) goes at once instead of paying the whole window.
        """
        ready = sum(1 for s in self.pending if s.prepared.done())
        return ready >= self.batch_limit or ready == len(self.pending)

    def admit(self) -> list[Sequence]:
        """Take the waiting requests that fit, first come first served."""
        admitted: list[Sequence] = []
        reserved = sum(s.reserved_tokens for s in self.active)
        blocked = False
        for sequence in list(self.pending):
            if sequence.cancelled.is_set():
                self.pending.remove(sequence)
                continue
            if not sequence.prepared.done():
                continue
            if sequence.prepared.exception() is not None:
                self.pending.remove(sequence)
                error = sequence.prepared.exception()
                sequence.finish(GenerationFailed(f"could not prepare the prompt: {error}"))
                continue
            running = len(self.active) + len(admitted)
            if running >= self.batch_limit or (
                running and reserved + sequence.reserved_tokens > self.limits.token_budget
            ):
                blocked = True
                break
            self.pending.remove(sequence)
            admitted.append(sequence)
            reserved += sequence.reserved_tokens
        if blocked:
            for ahead, sequence in enumerate(self.pending, start=1):
                if sequence.told_ahead != ahead:
                    sequence.told_ahead = ahead
                    sequence.send(Queued(ahead))
        self.joining += len(admitted)  # out of the line, not yet in the batch
        return admitted

    def chunked(self, new_tokens: int) -> bool:
        """Whether a prompt with `new_tokens` to prefill goes a chunk at a time.

        Only while answers are running: alone, one pass gives the first token sooner.
        """
        return bool(self.active) and 0 < self.limits.prefill_chunk < new_tokens

    def chunk_sizes(self, remaining: list[int]) -> list[int]:
        """Prompt tokens each joiner (oldest first, `remaining` still to prefill) puts into
        the next step: as many as the step's budget holds, so several may share a step."""
        left = self.limits.prefill_chunk
        sizes: list[int] = []
        for tokens in remaining:
            take = min(tokens, left)
            sizes.append(take)
            left -= take
        return sizes

    def prefill_groups(
        self, cold: list[Sequence], length: Callable[[Sequence], int]
    ) -> list[list[Sequence]]:
        """Cold requests in groups whose padded width fits one forward pass, in order."""
        groups: list[list[Sequence]] = []
        group: list[Sequence] = []
        for sequence in cold:
            width = max([length(sequence), *(length(s) for s in group)])
            if group and width * (len(group) + 1) > self.limits.prefill_tokens:
                groups.append(group)
                group = []
            group.append(sequence)
        if group:
            groups.append(group)
        return groups

    def joined(self, group: list[Sequence]) -> None:
        """`group` is prefilled and decodes with the batch from the next step on."""
        self.active.extend(group)
        self.joining = max(0, self.joining - len(group))

    def requeue_front(self, sequences: list[Sequence]) -> None:
        """Put `sequences` back at the head of the line; their text so far is recomputed."""
        for sequence in sequences:
            sequence.evicted()
        self.pending[0:0] = sequences

    def served(self, sequence: Sequence) -> None:
        """A request finished: update the time a request takes, for the busy estimate."""
        seconds = time.monotonic() - sequence.joined_at
        self._seconds_per_request = 0.8 * self._seconds_per_request + 0.2 * seconds

    # ----- backing off after running out of memory -----

    def memory_freed(self) -> None:
        """Memory ran out and was freed: count good steps from zero again."""
        self._steps_since_oom = 0

    def step_succeeded(self) -> None:
        """A decode step fitted: after enough of them the batch limit grows back by one."""
        self._steps_since_oom += 1
        if self._steps_since_oom >= GROW_BACK_STEPS and self.batch_limit < self.limits.max_batch:
            self.batch_limit += 1
            self._steps_since_oom = 0

    def prefill_did_not_fit(self) -> None:
        """A single request's prefill ran out beside a running batch: no more joins for now."""
        self.batch_limit = max(1, len(self.active))

    def halve_batch(self) -> list[Sequence]:
        """A decode step ran out: the rows in the highest slots leave (the bucket shrinks too).

        Returns the rows that leave; the caller frees their slots and requeues them.
        """
        by_slot = sorted(self.active, key=lambda s: s.slot)
        half = len(by_slot) // 2
        self.active = by_slot[:half]
        self.batch_limit = half
        return by_slot[half:]
