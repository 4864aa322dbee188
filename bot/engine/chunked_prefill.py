"""Prefill a long prompt a chunk at a time, so running answers keep decoding meanwhile.

A 1920x1080 screenshot is over a thousand prompt tokens; prefilled in one
pass it pauses every running answer for the whole pass. Here the prompt's
input embeddings are built once (the screenshot's vision encoding scattered
into its placeholder tokens, as the model's own forward does), then the text
decoder runs `chunk` tokens at a time on a growing cache; the scheduler runs
a decode step for the batch between chunks. Each chunk adds the DeepStack
visual features of the image tokens inside it, so the result is the same
computation as one pass, split along the sequence.

The vision encoder itself still runs whole, in a round of its own before the first chunk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from bot.engine.compat import cache_argument
from bot.engine.prefill_cache import GrowingCache
from bot.engine.prefix_cache import PrefixHit
from bot.engine.sequence import Sequence


@dataclass
class PartialPrefill:
    """A prompt part-way through its prefill."""

    sequence: Sequence
    cache: GrowingCache
    embeds: torch.Tensor  # [1, n, hidden] inputs of the tokens still to prefill (from `skip`)
    positions: torch.Tensor  # [4, 1, n]
    visual: torch.Tensor | None  # [1, n] True at image tokens
    deepstack: list[torch.Tensor] | None  # per early layer, [image tokens, hidden]
    skip: int  # tokens the cache held before (a thread's prefix)
    done: int = 0  # of the n tokens, how many are in the cache

    @property
    def remaining(self) -> int:
        return self.embeds.shape[1] - self.done


class ChunkedPrefill:
    """Builds `PartialPrefill`s for `model` and advances them chunk by chunk."""

    def __init__(self, model: Any, layers: int) -> None:
        self._model = model
        self._layers = layers
        inner = model.model
        self._embed = inner.get_input_embeddings()
        self._visual = inner.visual
        self._text = inner.language_model
        self._head = model.get_output_embeddings()
        self._image_token = int(model.config.image_token_id)
        self._cache_argument = cache_argument(self._text.forward)

    def begin(self, sequence: Sequence, hit: PrefixHit | None) -> PartialPrefill:
        """Embed the tokens after the prefix (encoding any screenshot among them)."""
        device = self._model.device
        skip = hit.length if hit is not None else 0
        ids = torch.tensor([sequence.tokens[skip:]], device=device)
        positions = sequence.prompt.positions_of(skip, len(sequence.tokens)).unsqueeze(1)
        embeds = self._embed(ids)
        visual = deepstack = None
        patches, grid = sequence.prompt.images_from(skip)
        if patches is not None and grid is not None:
            encoded = self._visual(
                patches.to(device, self._visual.dtype), grid_thw=grid.to(device), return_dict=True
            )
            visual = ids == self._image_token
            image_embeds = _joined(encoded.pooler_output).to(embeds.dtype)
            embeds = embeds.masked_scatter(visual.unsqueeze(-1).expand_as(embeds), image_embeds)
            deepstack = [
                _joined(feature).to(embeds.dtype) for feature in encoded.deepstack_features
            ]
        cache = (
            GrowingCache.from_tensors(hit.tensors)
            if hit is not None
            else GrowingCache.empty(self._layers)
        )
        return PartialPrefill(
            sequence, cache, embeds, positions.to(device), visual, deepstack, skip
        )

    def advance(self, partial: PartialPrefill, chunk: int) -> torch.Tensor | None:
        """Prefill the next `chunk` tokens; the last token's logits [1, vocab] once all are in."""
        start, end = partial.done, min(partial.done + chunk, partial.embeds.shape[1])
        visual = deepstack = None
        if partial.visual is not None and partial.deepstack is not None:
            inside = partial.visual[:, start:end]
            before = int(partial.visual[:, :start].sum())
            count = int(inside.sum())
            if count:
                visual = inside
                deepstack = [layer[before : before + count] for layer in partial.deepstack]
        attended = partial.skip + end
        output = self._text(
            inputs_embeds=partial.embeds[:, start:end],
            position_ids=partial.positions[:, :, start:end],
            attention_mask=torch.ones((1, attended), dtype=torch.long, device=self._model.device),
            use_cache=True,
            visual_pos_masks=visual,
            deepstack_visual_embeds=deepstack,
            **{self._cache_argument: partial.cache},
        )
        partial.done = end
        if partial.remaining:
            return None
        logits: torch.Tensor = self._head(output.last_hidden_state[:, -1])
        return logits


def _joined(features: torch.Tensor | tuple[torch.Tensor, ...] | list[torch.Tensor]) -> torch.Tensor:
    """One tensor from vision features, whole or split per image (transformers versions differ)."""
    return features if isinstance(features, torch.Tensor) else torch.cat(list(features))
