"""A mixed step: every running answer's next token and prompt chunks of joiners, in one forward.

This is vLLM's chunked-prefill scheduling: a step carries the decoding rows
first, then as many prompt tokens of requests joining the batch as the
step's budget allows (`BatchPolicy.chunk_sizes`), from several joiners if
there is room. A joiner costs the running answers a somewhat longer step
instead of a forward pass of its own, and joiners enter together.

The step's tokens are packed into one sequence: one token for each slot
below `rows` (the decode part, in slot order; a slot that is free or still
being prefilled feeds a placeholder that writes the pool's scratch column),
then each joiner's chunk. Embeddings, norms, projections and the MLP run
once over the whole sequence, so the weights are read once per step. Only
attention differs per row: `mixed_attention` splits the packed queries into
the decode part (a batch of one-token rows against the pool's first `rows`
slots, the views a decode step reads) and each chunk (against its own slot's
columns, causal from what the slot already holds), and runs the model's own
attention on each part (for SDPA, on the unexpanded key/value heads:
`grouped_attention`). Nothing of the pool is copied: each layer writes
every token's keys and values at its (slot, column) with one indexed write.

A mixed step runs eagerly whatever the decode mode: captured graphs are for
the steady decode steps between joins.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.modeling_utils import ALL_ATTENTION_FUNCTIONS

from bot.engine.chunked_prefill import PartialPrefill
from bot.engine.compat import cache_argument
from bot.engine.fusion import additive_mask
from bot.engine.slot_cache import MixedWrites, SlotCache

PLAN_ARGUMENT = "mixed_step_plan"  # the keyword the plan travels under to the attention
ATTENTION_NAME = "mixed_step_attention"


@dataclass(frozen=True)
class ChunkPart:
    """One joiner's chunk in the packed sequence."""

    slot: int
    start: int  # index of its first token in the packed sequence
    length: int
    mask: torch.Tensor  # [1, 1, length, attended] additive: 0 where a token may attend


@dataclass(frozen=True)
class MixedPlan:
    """How `mixed_attention` splits one step's packed queries."""

    rows: int  # the decode part: slots [0, rows), one token each
    decode_mask: torch.Tensor | None  # [rows, 1, 1, attended] additive, as `ChunkPart.mask`
    chunks: tuple[ChunkPart, ...]
    base: str  # the attention implementation each part runs with


def mixed_attention(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """Attention for a packed step: `query` [1, heads, tokens, dim]; `key`/`value` the pool."""
    plan: MixedPlan = kwargs.pop(PLAN_ARGUMENT)
    if plan.base == "sdpa":  # without K/V expanded per query head: see `grouped_attention`
        attend: Any = grouped_attention
    else:
        attend = ALL_ATTENTION_FUNCTIONS.get_interface(plan.base, sdpa_attention_forward)
    parts: list[torch.Tensor] = []
    if plan.rows:
        assert plan.decode_mask is not None
        rows, width = plan.rows, plan.decode_mask.shape[-1]
        queries = query[0, :, :rows].transpose(0, 1).unsqueeze(2).contiguous()
        keys, values = key[:rows, :, :width], value[:rows, :, :width]
        out, _ = attend(module, queries, keys, values, plan.decode_mask, **kwargs)
        parts.append(out.reshape(1, rows, *out.shape[2:]))  # [rows, 1, heads, dim] -> packed
    for chunk in plan.chunks:
        slot, width = chunk.slot, chunk.mask.shape[-1]
        out, _ = attend(
            module,
            query[:, :, chunk.start : chunk.start + chunk.length],
            key[slot : slot + 1, :, :width],
            value[slot : slot + 1, :, :width],
            chunk.mask,
            **kwargs,
        )
        parts.append(out)
    return torch.cat(parts, dim=1), None


AttentionInterface.register(ATTENTION_NAME, mixed_attention)


def grouped_attention(
    module: torch.nn.Module,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor,
    *,
    scaling: float | None = None,
    **_: Any,
) -> tuple[torch.Tensor, None]:
    """The model's SDPA attention (`query` [b, heads, q, dim], the result [b, q, heads,
    dim]) against `key`/`value` [b, kv heads, k, dim] as they are: each key/value head's
    `group` query heads are stacked as one head's `group * q` queries, the mask repeated
    beside them. With a mask, transformers' own SDPA path expands K and V to every query
    head (`repeat_kv`), a copy of the pool's columns per layer that grows with the batch.
    """
    batch, heads, length, dim = query.shape
    kv_heads = key.shape[1]
    group = heads // kv_heads
    stacked = query.reshape(batch, kv_heads, group * length, dim)
    mask = attention_mask
    if length > 1:  # one mask row per query token, for each of the group's heads
        width = mask.shape[-1]
        mask = mask.unsqueeze(2).expand(batch, 1, group, length, width)
        mask = mask.reshape(batch, 1, group * length, width)
    out = torch.nn.functional.scaled_dot_product_attention(
        stacked, key, value, attn_mask=mask, scale=scaling
    )
    return out.view(batch, heads, length, dim).transpose(1, 2).contiguous(), None


@contextmanager
def _attention_as(config: Any, name: str) -> Iterator[str]:
    """Run the text decoder's attention as `name` for one forward; yield what it was."""
    before = config._attn_implementation
    config._attn_implementation = name
    try:
        yield before
    finally:
        config._attn_implementation = before


@dataclass(frozen=True)
class MixedResult:
    """A mixed step's logits: `rows` decode rows by slot, then each joiner that finished."""

    logits: torch.Tensor
    rows: int
    finished: list[PartialPrefill]


class MixedStep:
    """Runs mixed steps of `model`'s text decoder over a `SlotCache`."""

    def __init__(self, model: Any, pad_token_id: int) -> None:
        decoder = model.get_decoder()
        self._text = getattr(decoder, "language_model", decoder)
        self._embed = model.get_input_embeddings()
        self._head = model.get_output_embeddings()
        self._cache_argument = cache_argument(self._text.forward)
        self._pad = pad_token_id

    def run(
        self,
        pool: SlotCache,
        feeds: Mapping[int, tuple[int, int, int]],
        chunks: Sequence[tuple[PartialPrefill, int]],
    ) -> MixedResult:
        """One forward for `feeds` (slot -> token, text position, rope position) and `chunks`
        (a joiner and how many of its tokens go in now); the pool's lengths are advanced."""
        assert pool.inputs is not None, "reserve the pool first"
        device = pool.inputs.columns.device
        dtype = self._embed.weight.dtype
        rows = max(feeds) + 1 if feeds else 0
        ids, texts, ropes = [self._pad] * rows, [0] * rows, [0] * rows
        writes = [pool.scratch_column] * rows
        for slot, (token, text, rope) in feeds.items():
            ids[slot], texts[slot], ropes[slot] = token, text, rope
            writes[slot] = pool.lengths[slot]
        slots, columns = list(range(rows)), list(writes)
        starts: list[int] = []
        offset = rows
        for partial, length in chunks:
            first = partial.skip + partial.done
            slots += [partial.slot] * length
            columns += range(first, first + length)
            starts.append(offset)
            offset += length
        staged = torch.tensor([slots, columns, ids + [0] * (offset - rows)]).to(device)
        every = pool.inputs.columns
        decode_mask = None
        if rows:
            width = max(pool.lengths[slot] for slot in feeds) + 1
            allowed = every[:width].unsqueeze(0) <= staged[1, :rows].unsqueeze(1)
            decode_mask = additive_mask(allowed.view(rows, 1, 1, width), dtype)
        parts: list[ChunkPart] = []
        embeds: list[torch.Tensor] = [self._embed(staged[2, :rows]).unsqueeze(0)] if rows else []
        positions = [torch.tensor([texts, ropes, ropes, ropes]).view(4, 1, rows).to(device)]
        visual: list[torch.Tensor] = [torch.zeros(rows, dtype=torch.bool)]
        deepstack: list[list[torch.Tensor]] = []
        for (partial, length), start in zip(chunks, starts, strict=True):
            first = partial.skip + partial.done
            end = first + length
            written = staged[1, start : start + length]
            allowed = (every[:end].unsqueeze(0) <= written.unsqueeze(1)).view(1, 1, length, end)
            mask = additive_mask(allowed, dtype)
            parts.append(ChunkPart(partial.slot, start, length, mask))
            embeds.append(partial.embeds[:, partial.done : partial.done + length])
            positions.append(partial.positions[:, :, partial.done : partial.done + length])
            seen = partial.chunk_visual(length)
            visual.append(seen[0] if seen else torch.zeros(length, dtype=torch.bool))
            if seen:
                deepstack.append(seen[1])
        is_visual = torch.cat(visual).unsqueeze(0)
        features = [torch.cat(layer) for layer in zip(*deepstack, strict=True)] or None
        placeholder = torch.ones((1, 1, 1, 1), dtype=torch.bool, device=device)
        pool.forget_prepared()  # rows move on here, not by one decode step
        pool.mixed = MixedWrites(staged[0], staged[1])
        try:
            with _attention_as(self._text.config, ATTENTION_NAME) as base:
                plan = MixedPlan(rows, decode_mask, tuple(parts), base)
                output = self._text(
                    inputs_embeds=torch.cat(embeds, dim=1),
                    position_ids=torch.cat(positions, dim=2),
                    attention_mask=placeholder,  # a 4D mask is taken as it is: the plan decides
                    use_cache=True,
                    visual_pos_masks=is_visual.to(device) if features else None,
                    deepstack_visual_embeds=features,
                    **{self._cache_argument: pool, PLAN_ARGUMENT: plan},
                )
        finally:
            pool.mixed = None
        finished: list[PartialPrefill] = []
        last: list[int] = []  # packed index of each finishing joiner's last prompt token
        for (partial, length), start in zip(chunks, starts, strict=True):
            if partial.remaining == length:
                finished.append(partial)
                last.append(start + length - 1)
        picked = torch.tensor([*range(rows), *last], dtype=torch.long, device=device)
        logits: torch.Tensor = self._head(output.last_hidden_state[0, picked])
        for slot in feeds:
            pool.lengths[slot] += 1
        for partial, length in chunks:
            partial.done += length
            pool.joining[partial.slot] += length
        for partial in finished:
            pool.joined(partial.slot)
        return MixedResult(logits, rows, finished)
