"""Dynamic batching: one thread owns the model and advances every running request at once.

Each round the thread admits waiting requests that fit (batch size, token
budget), prefills them into slots of the decode cache, then runs one decode
step for the whole batch (eager, compiled or as a CUDA graph: `Decoder`). A
request that finishes leaves its slot at once; the others carry on. Requests
whose thread left a cached prefix prefill only what is new.

Out of GPU memory never ends the process: a prefill is split in halves and
retried, a decode step moves half of the batch (the highest slots) back to the
front of the line (their text so far is kept and recomputed later), and the batch limit
shrinks until memory fits, growing back slowly afterwards.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from bot.engine.decode_mode import DecodeMode
from bot.engine.decoder import Decoder
from bot.engine.prefill_cache import GrowingCache
from bot.engine.prefix_cache import CachedPrefix, PrefixHit, PrefixStore
from bot.engine.request import Queued
from bot.engine.sampling import TokenChooser
from bot.engine.sequence import Sequence
from bot.engine.slot_cache import SlotCache
from bot.errors import EngineBusy, GenerationFailed, ModelUnavailable

log = logging.getLogger(__name__)

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
    """

    max_batch: int = 32
    token_budget: int = 65536
    prefill_tokens: int = 16384
    gather_seconds: float = 0.005
    max_waiting: int = 64


class BatchScheduler:
    """Owns the model on its own thread; `submit` hands it a `Sequence`."""

    def __init__(
        self,
        model: Any,
        chooser: TokenChooser,
        *,
        limits: BatchLimits,
        prefixes: PrefixStore,
        context_window: int,
        pad_token_id: int,
        observe: Callable[[str, float], None],
        decode_mode: DecodeMode = DecodeMode.AUTO,
    ) -> None:
        self._model = model
        self._chooser = chooser
        self._limits = limits
        self._prefixes = prefixes
        self._context_window = context_window
        self._pad_token_id = pad_token_id
        self._observe = observe
        self._layers = int(model.config.get_text_config().num_hidden_layers)
        self._pending: list[Sequence] = []
        self._joining = 0  # admitted and being prefilled
        self._active: list[Sequence] = []
        self._batch = SlotCache(self._layers)
        self._decoder = Decoder(model, decode_mode)
        self._warmed = threading.Event()
        self._warm_up_error: BaseException | None = None
        self._wake = threading.Condition()
        self._closed = False
        self._batch_limit = limits.max_batch
        self._steps_since_oom = 0
        self._seconds_per_request = 10.0  # moving average, for the busy estimate
        self._thread = threading.Thread(target=self._run, name="supportbot-model", daemon=True)
        self._thread.start()

    # ----- what the event loop calls (any thread) -----

    @property
    def depth(self) -> int:
        """Requests waiting or running."""
        with self._wake:
            return self._in_line()

    @property
    def decode_mode(self) -> DecodeMode:
        """How decode steps run now (a compiled mode falls back to eager on failure)."""
        return self._decoder.mode

    @property
    def cache_bytes(self) -> int:
        """GPU memory held by the decode cache's slots."""
        return self._batch.nbytes()

    def wait_until_warm(self) -> None:
        """Block until the decode step is compiled; raise what stopped it."""
        self._warmed.wait()
        if self._warm_up_error is not None:
            raise self._warm_up_error

    @property
    def batch_limit(self) -> int:
        """The batch size allowed now: `max_batch`, or less after running out of memory."""
        return self._batch_limit

    def check_room(self) -> None:
        """Raise `EngineBusy` (with a retry estimate) when no more requests may wait."""
        with self._wake:
            self._check_room()

    def submit(self, sequence: Sequence) -> None:
        with self._wake:
            if self._closed or not self._thread.is_alive():
                raise ModelUnavailable("the engine has closed")
            self._check_room()
            self._pending.append(sequence)
            self._wake.notify()
        sequence.prepared.add_done_callback(lambda _: self._notify())

    def close(self) -> None:
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join(timeout=30)

    def _check_room(self) -> None:
        waiting = self._in_line()
        if waiting >= self._limits.max_waiting:
            rounds = (len(self._pending) + 1) / max(1, self._batch_limit)
            raise EngineBusy(max(1, math.ceil(self._seconds_per_request * rounds)))

    def _in_line(self) -> int:
        """Requests waiting, joining the batch, or in it (lock held)."""
        return len(self._pending) + self._joining + len(self._active)

    def _notify(self) -> None:
        with self._wake:
            self._wake.notify()

    # ----- the model thread -----

    def _run(self) -> None:
        with torch.inference_mode():  # every tensor this thread makes is an inference tensor
            try:  # compiled graphs belong to the thread that captures them: this one
                self._decoder.warm_up(self._batch, self._limits.max_batch)
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
                    failed, self._active = self._active, []
                    self._batch.remove([s.slot for s in failed])
                    for sequence in failed:
                        sequence.finish(GenerationFailed(f"{type(error).__name__}: {error}"))

    def _round(self) -> bool:
        with self._wake:
            while not self._closed and not self._active and not self._any_ready():
                self._wake.wait()
            if self._closed:
                self._fail_everyone(ModelUnavailable("the engine has closed"))
                return False
            if not self._active:
                self._gather()
            admitted = self._admit()
            self._joining = len(admitted)  # out of the line, not yet in the batch
        if admitted:
            self._prefill_admitted(admitted)
            with self._wake:
                self._joining = 0
        if self._active:
            self._decode()
        return True

    def _any_ready(self) -> bool:
        return any(s.prepared.done() or s.cancelled.is_set() for s in self._pending)

    def _gather(self) -> None:
        """An idle engine waits a moment so a burst of requests is prefilled together."""
        deadline = time.monotonic() + self._limits.gather_seconds
        while not self._closed and (remaining := deadline - time.monotonic()) > 0:
            ready = sum(1 for s in self._pending if s.prepared.done())
            if ready >= self._batch_limit:
                return
            self._wake.wait(remaining)

    def _admit(self) -> list[Sequence]:
        """Take the waiting requests that fit, first come first served (lock held)."""
        admitted: list[Sequence] = []
        reserved = sum(s.reserved_tokens for s in self._active)
        blocked = False
        for sequence in list(self._pending):
            if sequence.cancelled.is_set():
                self._pending.remove(sequence)
                continue
            if not sequence.prepared.done():
                continue
            if sequence.prepared.exception() is not None:
                self._pending.remove(sequence)
                error = sequence.prepared.exception()
                sequence.finish(GenerationFailed(f"could not prepare the prompt: {error}"))
                continue
            running = len(self._active) + len(admitted)
            if running >= self._batch_limit or (
                running and reserved + sequence.reserved_tokens > self._limits.token_budget
            ):
                blocked = True
                break
            self._pending.remove(sequence)
            admitted.append(sequence)
            reserved += sequence.reserved_tokens
        if blocked:
            for ahead, sequence in enumerate(self._pending, start=1):
                if sequence.told_ahead != ahead:
                    sequence.told_ahead = ahead
                    sequence.send(Queued(ahead))
        return admitted

    def _requeue_front(self, sequences: list[Sequence]) -> None:
        for sequence in sequences:
            sequence.evicted()
        with self._wake:
            self._pending[0:0] = sequences

    # ----- prefill -----

    def _prefill_admitted(self, admitted: list[Sequence]) -> None:
        cold: list[Sequence] = []
        for sequence in admitted:
            sequence.start()
            hit = self._prefix_for(sequence)
            if hit is None:
                cold.append(sequence)
            else:
                self._prefill_safely([sequence], hit)
        group: list[Sequence] = []
        for sequence in cold:
            width = max([len(sequence.tokens), *(len(s.tokens) for s in group)])
            if group and width * (len(group) + 1) > self._limits.prefill_tokens:
                self._prefill_safely(group, None)
                group = []
            group.append(sequence)
        if group:
            self._prefill_safely(group, None)
        self._retire()

    def _prefix_for(self, sequence: Sequence) -> PrefixHit | None:
        key = sequence.request.reuse_key
        if key is None or sequence.new_tokens:  # a resumed request has its own tokens to recompute
            return None
        prompt = sequence.prompt
        hit = self._prefixes.take(key, prompt.token_ids, prompt.image_spans, prompt.image_digests)
        if hit is not None:
            self._observe("supportbot_engine_prefix_reused_tokens", hit.length)
        return hit

    def _prefill_safely(self, group: list[Sequence], hit: PrefixHit | None) -> None:
        try:
            self._prefill(group, hit)
        except torch.cuda.OutOfMemoryError:
            self._free_memory(f"prefilling {len(group)} request(s)")
            if len(group) > 1:
                half = len(group) // 2
                self._prefill_safely(group[:half], None)
                self._prefill_safely(group[half:], None)
            elif self._active:
                self._batch_limit = max(1, len(self._active))
                self._requeue_front(group)
            else:
                group[0].finish(
                    GenerationFailed("out of GPU memory: this request alone does not fit")
                )
        except Exception as error:
            log.exception("prefill failed")
            for sequence in group:
                sequence.finish(GenerationFailed(f"{type(error).__name__}: {error}"))

    def _prefill(self, group: list[Sequence], hit: PrefixHit | None) -> None:
        device = self._model.device
        skip = hit.length if hit is not None else 0
        width = max(len(s.tokens) - skip for s in group)
        ids = torch.full((len(group), width), self._pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(group), width), dtype=torch.long)
        positions = torch.zeros((4, len(group), width), dtype=torch.long)
        pixels: list[torch.Tensor] = []
        grids: list[torch.Tensor] = []
        for row, sequence in enumerate(group):
            pad = width - (len(sequence.tokens) - skip)
            ids[row, pad:] = torch.tensor(sequence.tokens[skip:])
            mask[row, pad:] = 1
            positions[:, row, pad:] = sequence.prompt.positions_of(skip, len(sequence.tokens))
            patches, grid = sequence.prompt.images_from(skip)
            if patches is not None and grid is not None:
                pixels.append(patches)
                grids.append(grid)
        if hit is not None:
            cache = GrowingCache.from_tensors(hit.tensors)
            mask = torch.cat([torch.ones((1, skip), dtype=torch.long), mask], dim=1)
        else:
            cache = GrowingCache.empty(self._layers)
        output = self._model(
            input_ids=ids.to(device),
            attention_mask=mask.to(device),
            position_ids=positions.to(device),
            pixel_values=torch.cat(pixels).to(device, self._model.dtype) if pixels else None,
            image_grid_thw=torch.cat(grids).to(device) if grids else None,
            cache=cache,
            use_cache=True,
            logits_to_keep=1,
        )
        slots = self._batch.add(cache.tensors(), [len(s.tokens) for s in group])
        for sequence, slot in zip(group, slots, strict=True):
            sequence.cached, sequence.slot = len(sequence.tokens), slot
        with self._wake:
            self._active.extend(group)
            self._joining = max(0, self._joining - len(group))
        self._advance(group, output.logits[:, -1, :])

    # ----- decode -----

    def _decode(self) -> None:
        try:
            self._step()
        except torch.cuda.OutOfMemoryError:
            # Nothing to undo: a failed step wrote only columns the next step writes again.
            self._free_memory(f"decoding a batch of {len(self._active)}")
            self._shrink_batch()
        else:  # any other failure fails the batch in `_run`
            self._steps_since_oom += 1
            if (
                self._steps_since_oom >= GROW_BACK_STEPS
                and self._batch_limit < self._limits.max_batch
            ):
                self._batch_limit += 1
                self._steps_since_oom = 0

    def _step(self) -> None:
        device = self._model.device
        active = self._active
        step = self._batch.begin_step(device)
        # Free slots inside the bucket decode a throwaway pad token at position 0.
        ids = [self._pad_token_id] * step.bucket
        text = [0] * step.bucket
        rope = [0] * step.bucket
        for sequence in active:  # plain lists: one tensor per step, not one per row
            ids[sequence.slot] = sequence.tokens[-1]
            text[sequence.slot] = len(sequence.tokens) - 1
            rope[sequence.slot] = text[sequence.slot] + sequence.prompt.rope_delta
        logits = self._decoder(
            torch.tensor(ids, device=device).unsqueeze(1),
            torch.tensor([text, rope, rope, rope], device=device).unsqueeze(-1),
            self._batch,
        )
        self._batch.end_step()
        for sequence in active:
            sequence.cached += 1
        self._observe("supportbot_engine_batch_size", len(active))
        rows = torch.tensor([s.slot for s in active], device=logits.device)
        self._advance(active, logits.index_select(0, rows))
        self._retire()

    def _shrink_batch(self) -> None:
        if len(self._active) == 1:
            self._active[0].finish(
                GenerationFailed("out of GPU memory: this request alone does not fit")
            )
            self._retire()
            return
        # The rows in the highest slots move back, so the step's bucket shrinks too.
        by_slot = sorted(self._active, key=lambda s: s.slot)
        half = len(by_slot) // 2
        moved = by_slot[half:]
        self._batch.remove([s.slot for s in moved])
        self._active = by_slot[:half]
        self._batch_limit = half
        self._requeue_front(moved)
        log.warning(
            "out of GPU memory: batch limit now %d, %d request(s) resume later", half, len(moved)
        )

    # ----- tokens out -----

    def _advance(self, rows: list[Sequence], logits: torch.Tensor) -> None:
        """Choose each row's next token and send it; finish the rows that are done."""
        may_end = [s.new_tokens >= s.min_new_tokens for s in rows]
        for sequence, token in zip(rows, self._chooser.choose(logits, may_end), strict=True):
            if sequence.done or sequence.ending:
                continue
            if token in self._chooser.end_tokens:
                sequence.ending = True
                continue
            sequence.tokens.append(token)
            sequence.send(token)
            if (
                sequence.new_tokens >= sequence.max_new_tokens
                or len(sequence.tokens) >= self._context_window
            ):
                sequence.ending = True

    def _retire(self) -> None:
        """Remove finished and abandoned rows from the batch, keeping reusable prefixes.

        A finished request hears so only after its prefix is kept, so a follow-up
        sent as soon as the answer ends finds it.
        """
        staying: list[Sequence] = []
        leaving: list[Sequence] = []
        finishing: list[Sequence] = []
        for sequence in self._active:
            if not (sequence.ending or sequence.done or sequence.cancelled.is_set()):
                staying.append(sequence)
                continue
            leaving.append(sequence)
            if sequence.ending and not sequence.done:
                if sequence.request.reuse_key is not None:
                    self._keep_prefix(sequence)
                finishing.append(sequence)
            else:
                sequence.done = True  # abandoned by its consumer: nobody to tell
        if leaving:
            self._batch.remove([s.slot for s in leaving])
            with self._wake:
                self._active = staying
        for sequence in finishing:
            served = time.monotonic() - sequence.joined_at
            self._seconds_per_request = 0.8 * self._seconds_per_request + 0.2 * served
            sequence.finish()

    def _keep_prefix(self, sequence: Sequence) -> None:
        assert sequence.request.reuse_key is not None
        prefix = CachedPrefix(
            tuple(sequence.tokens[: sequence.cached]),
            sequence.prompt.image_digests,
            self._batch.row(sequence.slot),
        )
        self._prefixes.keep(sequence.request.reuse_key, prefix)

    # ----- failure -----

    def _free_memory(self, doing: str) -> None:
        log.warning("out of GPU memory while %s; freeing cached prefixes and retrying", doing)
        self._prefixes.clear()
        if not self._batch.lengths:
            self._batch.release()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        self._steps_since_oom = 0

    def _fail_everyone(self, error: Exception) -> None:
        with self._wake:
            everyone, self._pending = [*self._active, *self._pending], []
        self._batch.remove([s.slot for s in self._active])
        self._active = []
        for sequence in everyone:
            sequence.finish(error)
