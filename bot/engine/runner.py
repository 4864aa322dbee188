"""The model runner: prefill, one decode step, the caches, choosing tokens.

It computes what the policy (`policy.py`) decided, on the scheduler's thread.
A prefill in one pass writes a growing cache that then moves into the decode
cache's slots (`slot_cache`); a prompt joining running answers takes its
slot at once and is prefilled into it chunk by chunk inside mixed steps
(`mixed_step`), beside every running row. A decode step runs every slot at
once through the `Decoder` (eager, compiled, or replayed as CUDA graphs).
Finished answers leave their keys and values in the prefix store for the
thread's next question.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

import torch

from bot.engine.chunked_prefill import ChunkedPrefill, PartialPrefill, ready_encodings
from bot.engine.compat import cache_argument
from bot.engine.config import EngineConfig
from bot.engine.decode_mode import DecodeMode
from bot.engine.decoder import Decoder
from bot.engine.device import free_memory_bytes
from bot.engine.encode_ahead import AheadEncoder
from bot.engine.encoder_cache import EncoderCache
from bot.engine.mailbox import deliver
from bot.engine.mixed_step import MixedResult, MixedStep
from bot.engine.patch_embedding import embed_patches_as_linear
from bot.engine.prefill_cache import GrowingCache
from bot.engine.prefix_cache import CachedPrefix, PrefixHit, PrefixStore
from bot.engine.prepared import ImagesInPrompt, PreparedPrompt, PromptImage
from bot.engine.sampling import TokenChooser
from bot.engine.sequence import Sequence
from bot.engine.slot_cache import SlotCache, bucket_for, pool_columns

log = logging.getLogger(__name__)


class ModelRunner:
    """Runs `model` for the scheduler: prefills, decode steps and token choice."""

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
        self._model = model
        self._chooser = chooser
        self._prefixes = prefixes
        self._context_window = context_window
        self._pad_token_id = pad_token_id
        self._observe = observe
        self._config = config
        self._layers = int(model.config.get_text_config().num_hidden_layers)
        self._batch = SlotCache(self._layers)
        # The model as the engine runs it: patch embedding as a matrix product here,
        # the text decoder's weights fused by the decoder.
        embed_patches_as_linear(model.model.visual)
        self._decoder = Decoder(
            model, config.decode_mode, compile_budget_seconds=config.compile_budget_seconds
        )
        self._cache_argument = cache_argument(model.forward)
        decoder = model.get_decoder()
        self._text = getattr(decoder, "language_model", decoder)
        self._text_cache_argument = cache_argument(self._text.forward)
        self._head = model.get_output_embeddings()
        self._encodings = EncoderCache(config.encoder_cache_bytes)
        self._chunks = ChunkedPrefill(model, encodings=self._encodings, observe=observe)
        self._ahead = AheadEncoder(
            self._chunks,
            budget_bytes=config.encoder_cache_bytes,
            workers=config.encoder_workers,
            device=torch.device(model.device),
            observe=observe,
            covered=self._covered_tokens,
        )
        self._mixed = MixedStep(model, pad_token_id)

    @property
    def decode_mode(self) -> DecodeMode:
        """How decode steps run now (a compiled mode falls back to eager on failure)."""
        return self._decoder.mode

    @property
    def cache_bytes(self) -> int:
        """GPU memory held by the decode cache's slots."""
        return self._batch.nbytes()

    @property
    def kv_pool(self) -> SlotCache:
        """The key/value pool the decode slots live in."""
        return self._batch

    @property
    def context_window(self) -> int:
        """Most tokens a prompt and its answer may take together."""
        return self._context_window

    def warm_up(self, max_batch: int) -> None:
        """Reserve the key/value pool and prepare every decode shape, before serving.

        The pool holds `max_batch` slots (rounded up to a bucket) of as many
        columns as the context window needs, or as the memory budget holds
        (`kv_cache_bytes`, or a share of what is free now that the weights are
        in, less what the encoder cache and the screenshots encoded ahead may
        hold); the context window shrinks to fit it. It is never reallocated.
        """
        like = self._decoder.kv_zeros(1, 1)
        slots = bucket_for(max_batch)
        per_column = 2 * self._layers * like[0, :, 0].numel() * like.element_size()
        budget = self._config.kv_cache_bytes or max(
            0,
            int(self._config.kv_cache_memory_share * free_memory_bytes(str(like.device)))
            - 2 * self._config.encoder_cache_bytes,  # the cache, and encodings held ahead
        )
        columns = pool_columns(
            budget_bytes=budget,
            slots=slots,
            bytes_per_column=per_column,
            needed=self._context_window + 1,  # the step after the last token writes one more
        )
        self._batch.reserve(like, slots, columns)
        self._context_window = min(self._context_window, columns - 1)
        log.info(
            "key/value pool reserved: %d slots x %d columns, %.2f GiB (budget %.2f GiB)",
            slots,
            columns,
            self._batch.nbytes() / 2**30,
            budget / 2**30,
        )
        self._decoder.warm_up(self._batch, max_batch)

    # ----- prefill -----

    def encode_ahead(self, sequence: Sequence) -> Future[PreparedPrompt]:
        """`sequence`'s prompt, done once its screenshots are encoded off this thread."""
        return self._ahead.after(sequence)

    def images_at_hand(self, prompt: ImagesInPrompt) -> set[int]:
        """Which of a prompt's images (indices) need no encoding made now: inside its
        thread's cached prefix, or encoded or being encoded (for `PromptPreparer`)."""
        covered = self._covered_tokens(prompt)
        return {
            index
            for index, ((_, end), digest) in enumerate(
                zip(prompt.spans, prompt.digests, strict=True)
            )
            if end <= covered or self._ahead.at_hand(digest)
        }

    def _covered_tokens(self, prompt: ImagesInPrompt) -> int:
        """Tokens of a prompt its thread's cached prefix holds now (what `prefix_for`
        would reuse, unless the prefix goes first)."""
        if prompt.reuse_key is None:
            return 0
        return self._prefixes.reusable(
            prompt.reuse_key, prompt.token_ids, prompt.spans, prompt.digests
        )

    def prefix_for(self, sequence: Sequence) -> PrefixHit | None:
        """The cached prefix of the request's thread it can start from, if any."""
        key = sequence.request.reuse_key
        if key is None or sequence.new_tokens:  # a resumed request has its own tokens to recompute
            return None
        prompt = sequence.prompt
        hit = self._prefixes.take(key, prompt.token_ids, prompt.image_spans, prompt.image_digests)
        if hit is not None:
            self._observe("supportbot_engine_prefix_reused_tokens", hit.length)
        return hit

    def prefill(self, group: list[Sequence], hit: PrefixHit | None) -> torch.Tensor:
        """Run `group`'s prompts, move them into decode slots; return each row's last logits."""
        device = self._model.device
        skip = hit.length if hit is not None else 0
        width = max(len(s.tokens) - skip for s in group)
        ids = torch.full((len(group), width), self._pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(group), width), dtype=torch.long)
        positions = torch.zeros((4, len(group), width), dtype=torch.long)
        images: list[PromptImage] = []
        for row, sequence in enumerate(group):
            pad = width - (len(sequence.tokens) - skip)
            ids[row, pad:] = torch.tensor(sequence.tokens[skip:])
            mask[row, pad:] = 1
            positions[:, row, pad:] = sequence.prompt.positions_of(skip, len(sequence.tokens))
            images += sequence.prompt.images_from(skip)
        if hit is not None:
            cache = GrowingCache.from_tensors(hit.tensors)
            mask = torch.cat([torch.ones((1, skip), dtype=torch.long), mask], dim=1)
        else:
            cache = GrowingCache.empty(self._layers)
        if images:  # the screenshots' encodings through the encoder cache
            embeds, visual, deepstack = self._chunks.embed_with_images(
                ids, images, ready_encodings(group)
            )
            hidden = self._text(
                inputs_embeds=embeds,
                attention_mask=mask.to(device),
                position_ids=positions.to(device),
                use_cache=True,
                visual_pos_masks=visual,
                deepstack_visual_embeds=deepstack,
                **{self._text_cache_argument: cache},
            ).last_hidden_state
            logits: torch.Tensor = self._head(hidden[:, -1, :])
        else:
            output = self._model(
                input_ids=ids.to(device),
                attention_mask=mask.to(device),
                position_ids=positions.to(device),
                use_cache=True,
                logits_to_keep=1,
                **{self._cache_argument: cache},
            )
            logits = output.logits[:, -1, :]
        slots = self._batch.add(cache.tensors(), [len(s.tokens) for s in group])
        for sequence, slot in zip(group, slots, strict=True):
            sequence.cached, sequence.slot = len(sequence.tokens), slot
        return logits

    def begin_chunked(
        self, joiners: list[tuple[Sequence, PrefixHit | None]]
    ) -> list[PartialPrefill]:
        """Give each joiner a slot (its cached prefix copied in) and embed its prompt,
        encoding every joiner's screenshots in one call; mixed steps prefill the rest."""
        claimed: list[tuple[Sequence, PrefixHit | None, int]] = []
        try:
            for sequence, hit in joiners:
                held = hit.length if hit is not None else 0
                tensors = hit.tensors if hit is not None else None
                slot = self._batch.claim(tensors, held, len(sequence.tokens))
                sequence.slot, sequence.cached = slot, held
                claimed.append((sequence, hit, slot))
            return self._chunks.begin(claimed)
        except BaseException:
            self._batch.remove([slot for _, _, slot in claimed])
            raise

    def mixed_step(
        self, active: list[Sequence], chunks: list[tuple[PartialPrefill, int]]
    ) -> MixedResult:
        """One forward for every running row and `chunks` (a joiner, tokens to prefill now).

        The result's logits hold the running rows by slot, then one row per
        joiner whose prompt is now all in; those joiners' slots decode from the
        next step on.
        """
        feeds = {}
        for sequence in active:
            text = len(sequence.tokens) - 1
            feeds[sequence.slot] = (sequence.tokens[-1], text, text + sequence.prompt.rope_delta)
        result = self._mixed.run(self._batch, feeds, chunks)
        for sequence in active:
            sequence.cached += 1
        for partial, length in chunks:
            partial.sequence.cached += length
        self._observe("supportbot_engine_batch_size", len(active))
        return result

    # ----- decode -----

    def step(self, active: list[Sequence]) -> torch.Tensor:
        """One decode step for every running row; their logits by slot, [bucket, vocab].

        Row `s` of `active` is row `s.slot` of the result (pass `by_slot=True`
        to `advance`): picking rows would cost a host-to-device copy of the slots.
        """
        feeds = {}
        for sequence in active:
            text = len(sequence.tokens) - 1
            feeds[sequence.slot] = (sequence.tokens[-1], text, text + sequence.prompt.rope_delta)
        shape = self._batch.begin_step(feeds, self._pad_token_id)
        logits = self._decoder.run(self._batch, shape)
        self._batch.end_step()
        for sequence in active:
            sequence.cached += 1
        self._observe("supportbot_engine_batch_size", len(active))
        return logits

    # ----- tokens out -----

    def advance(
        self,
        rows: list[Sequence],
        logits: torch.Tensor,
        *,
        by_slot: bool = False,
        at: list[int] | None = None,
    ) -> None:
        """Choose each row's next token and send it; mark the rows that are done as ending.

        `logits` holds one row per sequence in `rows`' order, or with `by_slot`
        one per decode slot (free slots' rows are chosen and ignored), or the
        row `at[i]` for `rows[i]`.
        """
        if at is None:
            at = [s.slot for s in rows] if by_slot else list(range(len(rows)))
        may_end = [True] * logits.shape[0]
        greedy = [False] * logits.shape[0]
        for sequence, row in zip(rows, at, strict=True):
            may_end[row] = sequence.new_tokens >= sequence.min_new_tokens
            greedy[row] = sequence.request.greedy
        # After a decode step the next one is staged while this one's tokens come back.
        meanwhile = self._batch.prepare_next if by_slot else None
        chosen = self._chooser.choose(logits, may_end, greedy, meanwhile)
        sends: list[tuple[Sequence, int]] = []
        for sequence, row in zip(rows, at, strict=True):
            token = chosen[row]
            if sequence.done or sequence.ending:
                continue
            if token in self._chooser.end_tokens:
                sequence.ending = True
                continue
            sequence.tokens.append(token)
            sends.append((sequence, token))
            if (
                sequence.new_tokens >= sequence.max_new_tokens
                or len(sequence.tokens) >= self._context_window
            ):
                sequence.ending = True
        deliver([(sequence.send, token) for sequence, token in sends])

    # ----- caches -----

    def keep_prefix(self, sequence: Sequence) -> None:
        """Keep a finished request's keys and values for its thread's next question."""
        assert sequence.request.reuse_key is not None
        prefix = CachedPrefix(
            tuple(sequence.tokens[: sequence.cached]),
            sequence.prompt.image_digests,
            self._batch.row(sequence.slot),
        )
        self._prefixes.keep(sequence.request.reuse_key, prefix)

    def release(self, sequences: list[Sequence]) -> None:
        """Free the decode slots of `sequences`."""
        self._batch.remove([s.slot for s in sequences])

    def close(self) -> None:
        """Stop encoding ahead (requests still in line are encoded at admission)."""
        self._ahead.close()

    def free_memory(self, doing: str) -> None:
        """Out of GPU memory: drop cached prefixes (the key/value pool stays reserved)."""
        log.warning("out of GPU memory while %s; freeing cached prefixes and retrying", doing)
        self._prefixes.clear()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
