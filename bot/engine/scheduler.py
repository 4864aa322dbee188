"""Dynamic batching: one thread owns the model and advances every running request at once.

Each round the thread asks the policy (`BatchPolicy`: who is admitted, how
prefills are grouped, how far the batch may grow) and has the runner
(`ModelRunner`: prefill, decode step, caches) do the work: admitted requests
are prefilled into slots of the decode cache, then one decode step runs for
the whole batch. A long prompt joining running answers takes a slot at once
and is prefilled chunk by chunk inside the batch's steps: a mixed step
carries every running row's token and chunks of as many joiners as the
step's budget holds, oldest first (vLLM's chunked-prefill scheduling). A
request that finishes leaves its slot at once; the others carry on. Requests
whose thread left a cached prefix prefill only what is new.

Out of GPU memory never ends the process: a prefill is split in halves and
retried, a decode step moves half of the batch (the highest slots) back to the
front of the line (their text so far is kept and recomputed later), and the batch limit
shrinks until memory fits, growing back slowly afterwards.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import torch

from bot.engine.chunked_prefill import PartialPrefill
from bot.engine.config import EngineConfig
from bot.engine.decode_mode import DecodeMode
from bot.engine.policy import BatchPolicy
from bot.engine.prefix_cache import PrefixHit, PrefixStore
from bot.engine.prepared import ImagesInPrompt
from bot.engine.runner import ModelRunner
from bot.engine.sampling import TokenChooser
from bot.engine.sequence import Sequence
from bot.engine.slot_cache import SlotCache
from bot.errors import GenerationFailed, ModelUnavailable

log = logging.getLogger(__name__)


class BatchScheduler:
    """Owns the model on its own thread; `submit` hands it a `Sequence`."""

    def __init__(
        self,
        model: Any,
        chooser: TokenChooser,
        *,
        config: EngineConfig,
        prefixes: PrefixStore,
        context_window: int,
        pad_token_id: int,
        observe: Callable[[str, float], None],
    ) -> None:
        self._limits = config.limits
        self._policy = BatchPolicy(self._limits)
        self._runner = ModelRunner(
            model,
            chooser,
            config=config,
            prefixes=prefixes,
            context_window=context_window,
            pad_token_id=pad_token_id,
            observe=observe,
        )
        self._warmed = threading.Event()
        self._warm_up_error: BaseException | None = None
        self._wake = threading.Condition()  # guards the policy's line and batch
        self._closed = False
        self._partials: list[PartialPrefill] = []  # prompts being prefilled a chunk at a time
        self._observe = observe
        self._thread = threading.Thread(target=self._run, name="supportbot-model", daemon=True)
        self._thread.start()

    # ----- what the event loop calls (any thread) -----

    @property
    def depth(self) -> int:
        """Requests waiting or running."""
        with self._wake:
            return self._policy.in_line()

    @property
    def decode_mode(self) -> DecodeMode:
        """How decode steps run now (a compiled mode falls back to eager on failure)."""
        return self._runner.decode_mode

    @property
    def cache_bytes(self) -> int:
        """GPU memory held by the decode cache's slots."""
        return self._runner.cache_bytes

    @property
    def kv_pool(self) -> SlotCache:
        """The key/value pool the decode slots live in."""
        return self._runner.kv_pool

    @property
    def context_window(self) -> int:
        """Most tokens a prompt and its answer may take together."""
        return self._runner.context_window

    def wait_until_warm(self) -> None:
        """Block until the decode step is ready; raise what stopped it."""
        self._warmed.wait()
        if self._warm_up_error is not None:
            raise self._warm_up_error

    @property
    def batch_limit(self) -> int:
        """The batch size allowed now: `max_batch`, or less after running out of memory."""
        return self._policy.batch_limit

    def check_room(self) -> None:
        """Raise `EngineBusy` (with a retry estimate) when no more requests may wait."""
        with self._wake:
            self._policy.check_room()

    def images_at_hand(self, prompt: ImagesInPrompt) -> set[int]:
        """Which of a prompt's images need no encoding made now (see `ModelRunner`)."""
        return self._runner.images_at_hand(prompt)

    def submit(self, sequence: Sequence) -> None:
        with self._wake:
            if self._closed or not self._thread.is_alive():
                raise ModelUnavailable("the engine has closed")
            self._policy.check_room()
            # Ready for the model thread once prepared and its screenshots encoded.
            sequence.prepared = self._runner.encode_ahead(sequence)
            self._policy.pending.append(sequence)
            self._wake.notify()
        sequence.prepared.add_done_callback(lambda _: self._notify())

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join(timeout=30)
        self._runner.close()

    def _notify(self) -> None:
        with self._wake:
            self._wake.notify()

    # ----- the model thread -----

    def _run(self) -> None:
        with torch.inference_mode():  # every tensor this thread makes is an inference tensor
            try:  # compiled graphs belong to the thread that captures them: this one
                self._runner.warm_up(self._limits.max_batch)
            except BaseException as error:
                self._warm_up_error = error
                self._closed = True
            finally:
                self._warmed.set()
            while True:
                try:
                    if not self._round():
                        return
                except Exception as error:  # a bug must cost the batch, not the engine
                    log.exception("a scheduling round failed")
                    with self._wake:
                        failed, self._policy.active = self._policy.active, []
                        joining = [partial.sequence for partial in self._partials]
                        self._partials = []
                        self._policy.joining = 0
                    self._runner.release([*failed, *joining])
                    for sequence in [*failed, *joining]:
                        sequence.finish(GenerationFailed(f"{type(error).__name__}: {error}"))

    def _round(self) -> bool:
        policy = self._policy
        with self._wake:
            while not (self._closed or policy.active or self._partials or policy.any_ready()):
                self._wake.wait()
            if self._closed:
                self._fail_everyone(ModelUnavailable("the engine has closed"))
                return False
            if not policy.active and not self._partials:
                self._gather()
            admitted = policy.admit()
        waiting = list(self._partials)  # begun in an earlier round
        if admitted:
            self._prefill_admitted(admitted)
        with self._wake:
            policy.joining = len(self._partials)  # the rest joined or failed
        # A prompt begun now (its images encoded this round) waits for the next
        # step while answers run, so its encoding and its first chunk are two pauses.
        ready = waiting if policy.active else list(self._partials)
        if ready:
            self._mixed_step(ready)
        elif policy.active:
            self._decode()
        return True

    def _gather(self) -> None:
        """An idle engine waits a moment for requests in line to be prepared, so that a
        burst is prefilled together."""
        deadline = time.monotonic() + self._limits.gather_seconds
        while not self._closed and (remaining := deadline - time.monotonic()) > 0:
            if self._policy.burst_gathered():
                return
            self._wake.wait(remaining)

    def _requeue_front(self, sequences: list[Sequence]) -> None:
        with self._wake:
            self._policy.requeue_front(sequences)

    # ----- prefill -----

    def _prefill_admitted(self, admitted: list[Sequence]) -> None:
        cold: list[Sequence] = []
        joiners: list[tuple[Sequence, PrefixHit | None]] = []
        for sequence in admitted:
            sequence.start()
            hit = self._runner.prefix_for(sequence)
            if self._policy.chunked(len(sequence.tokens) - (hit.length if hit else 0)):
                joiners.append((sequence, hit))
            elif hit is None:
                cold.append(sequence)
            else:
                self._prefill_safely([sequence], hit)
        if joiners:
            self._begin_chunked(joiners)
        for group in self._policy.prefill_groups(cold, lambda s: len(s.tokens)):
            self._prefill_safely(group, None)
        self._retire()

    def _prefill_safely(self, group: list[Sequence], hit: PrefixHit | None) -> None:
        try:
            logits = self._runner.prefill(group, hit)
            with self._wake:
                self._policy.joined(group)
            self._runner.advance(group, logits)
        except torch.cuda.OutOfMemoryError:
            self._free_memory(f"prefilling {len(group)} request(s)")
            if len(group) > 1:
                half = len(group) // 2
                self._prefill_safely(group[:half], None)
                self._prefill_safely(group[half:], None)
            elif self._policy.active:
                self._policy.prefill_did_not_fit()
                self._requeue_front(group)
            else:
                group[0].finish(
                    GenerationFailed("out of GPU memory: this request alone does not fit")
                )
        except Exception as error:
            log.exception("prefill failed")
            for sequence in group:
                sequence.finish(GenerationFailed(f"{type(error).__name__}: {error}"))

    def _begin_chunked(self, joiners: list[tuple[Sequence, PrefixHit | None]]) -> None:
        try:
            self._partials.extend(self._runner.begin_chunked(joiners))
        except torch.cuda.OutOfMemoryError:
            for sequence, _ in joiners:
                self._chunk_did_not_fit(sequence)
        except Exception as error:
            log.exception("prefill failed")
            for sequence, _ in joiners:
                sequence.finish(GenerationFailed(f"{type(error).__name__}: {error}"))

    def _mixed_step(self, ready: list[PartialPrefill]) -> None:
        """One step for the running rows and chunks of the joiners in `ready`, oldest first;
        each joiner whose prompt is all in chooses its first token and joins the batch."""
        for partial in list(ready):
            sequence = partial.sequence
            if sequence.cancelled.is_set() or sequence.done:
                ready.remove(partial)
                self._partials.remove(partial)
                self._runner.release([sequence])
                sequence.done = True
        sizes = self._policy.chunk_sizes([partial.remaining for partial in ready])
        chunks = [(partial, size) for partial, size in zip(ready, sizes, strict=True) if size]
        active = list(self._policy.active)
        if not chunks:
            if active:
                self._decode()
            return
        try:
            result = self._runner.mixed_step(active, chunks)
        except torch.cuda.OutOfMemoryError:
            # The running rows only rewrite their columns next step; the joiners start over.
            for partial, _ in chunks:
                self._partials.remove(partial)
                self._runner.release([partial.sequence])
            for partial, _ in chunks:
                self._chunk_did_not_fit(partial.sequence)
            return
        for _, size in chunks:
            self._observe("supportbot_engine_prefill_chunk_tokens", size)
        joined = [partial.sequence for partial in result.finished]
        for partial in result.finished:
            self._partials.remove(partial)
        with self._wake:
            self._policy.joined(joined)
            self._policy.joining = len(self._partials)
        at = [sequence.slot for sequence in active]
        at += range(result.rows, result.rows + len(joined))
        self._runner.advance([*active, *joined], result.logits, at=at)
        self._retire()
        self._policy.step_succeeded()

    def _chunk_did_not_fit(self, sequence: Sequence) -> None:
        self._free_memory("prefilling a chunk")
        if self._policy.active:
            self._policy.prefill_did_not_fit()
            self._requeue_front([sequence])
        else:
            sequence.finish(GenerationFailed("out of GPU memory: this request alone does not fit"))

    # ----- decode -----

    def _decode(self) -> None:
        try:
            active = self._policy.active
            self._runner.advance(active, self._runner.step(active), by_slot=True)
            self._retire()
        except torch.cuda.OutOfMemoryError:
            # Nothing to undo: a failed step wrote only columns the next step writes again.
            self._free_memory(f"decoding a batch of {len(self._policy.active)}")
            self._shrink_batch()
        else:  # any other failure fails the batch in `_run`
            self._policy.step_succeeded()

    def _shrink_batch(self) -> None:
        active = self._policy.active
        if len(active) == 1:
            active[0].finish(GenerationFailed("out of GPU memory: this request alone does not fit"))
            self._retire()
            return
        with self._wake:
            moved = self._policy.halve_batch()
        self._runner.release(moved)
        self._requeue_front(moved)
        log.warning(
            "out of GPU memory: batch limit now %d, %d request(s) resume later",
            self._policy.batch_limit,
            len(moved),
        )

    # ----- leaving the batch -----

    def _retire(self) -> None:
        """Remove finished and abandoned rows from the batch, keeping reusable prefixes.

        A finished request hears so only after its prefix is kept, so a follow-up
        sent as soon as the answer ends finds it.
        """
        staying: list[Sequence] = []
        leaving: list[Sequence] = []
        finishing: list[Sequence] = []
        for sequence in self._policy.active:
            if not (sequence.ending or sequence.done or sequence.cancelled.is_set()):
                staying.append(sequence)
                continue
            leaving.append(sequence)
            if sequence.ending and not sequence.done:
                if sequence.request.reuse_key is not None:
                    self._runner.keep_prefix(sequence)
                finishing.append(sequence)
            else:
                sequence.done = True  # abandoned by its consumer: nobody to tell
        if leaving:
            self._runner.release(leaving)
            with self._wake:
                self._policy.active = staying
        for sequence in finishing:
            self._policy.served(sequence)
            sequence.finish()

    # ----- failure -----

    def _free_memory(self, doing: str) -> None:
        self._runner.free_memory(doing)
        self._policy.memory_freed()

    def _fail_everyone(self, error: Exception) -> None:
        """Closing: everyone waiting or running hears `error` (lock held)."""
        policy = self._policy
        joining = [partial.sequence for partial in self._partials]
        self._partials = []
        everyone, policy.pending = [*policy.active, *joining, *policy.pending], []
        self._runner.release([*policy.active, *joining])
        policy.active = []
        for sequence in everyone:
            sequence.finish(error)
