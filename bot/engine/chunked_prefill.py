"""Prompts joining running answers, made ready to be prefilled a chunk at a time.

A 1920x1080 screenshot is over a thousand prompt tokens; prefilled in one
pass it pauses every running answer for the whole pass. Instead each joiner
takes a decode slot at once and its prompt goes into the pool chunk by chunk,
inside the batch's own steps (`mixed_step`). Here the prompt's input
embeddings are built once: the screenshots' vision encoding scattered into
their placeholder tokens, as the model's own forward does, with the
DeepStack visual features each chunk adds to the image tokens inside it. So
the result is the same computation as one pass, split along the sequence.

Joiners admitted in the same round have their screenshots encoded together,
in one call of the vision encoder (it takes images of any sizes at once).
"""

from __future__ import annotations

from collections.abc import Sequence as Seq
from dataclasses import dataclass
from typing import Any

import torch

from bot.engine.prefix_cache import PrefixHit
from bot.engine.sequence import Sequence


@dataclass
class PartialPrefill:
    """A prompt part-way through its prefill into its own decode slot."""

    sequence: Sequence
    slot: int
    embeds: torch.Tensor  # [1, n, hidden] inputs of the tokens still to prefill (from `skip`)
    positions: torch.Tensor  # [4, 1, n]
    visual: torch.Tensor | None  # [n] True at image tokens, on the host
    deepstack: list[torch.Tensor] | None  # per early layer, [image tokens, hidden]
    skip: int  # tokens the slot held before (a thread's prefix)
    done: int = 0  # of the n tokens, how many are in the slot

    @property
    def remaining(self) -> int:
        return self.embeds.shape[1] - self.done

    def chunk_visual(self, length: int) -> tuple[torch.Tensor, list[torch.Tensor]] | None:
        """The next `length` tokens' image mask [length] and DeepStack features, if any."""
        if self.visual is None or self.deepstack is None:
            return None
        start, end = self.done, self.done + length
        inside = self.visual[start:end]
        count = int(inside.sum())
        if not count:
            return None
        before = int(self.visual[:start].sum())
        return inside, [layer[before : before + count] for layer in self.deepstack]


class ChunkedPrefill:
    """Builds `PartialPrefill`s for `model`: embeddings and one vision-encoder call per round."""

    def __init__(self, model: Any) -> None:
        self._model = model
        inner = model.model
        self._embed = inner.get_input_embeddings()
        self._visual = inner.visual
        self._image_token = int(model.config.image_token_id)

    def begin(self, joiners: Seq[tuple[Sequence, PrefixHit | None, int]]) -> list[PartialPrefill]:
        """Embed each joiner's tokens after its prefix; `joiners` are (sequence, hit, slot)."""
        device = self._model.device
        patches: list[torch.Tensor] = []
        grids: list[torch.Tensor] = []
        rows: list[tuple[Sequence, int, int, torch.Tensor, torch.Tensor]] = []
        for sequence, hit, slot in joiners:
            skip = hit.length if hit is not None else 0
            ids = torch.tensor(sequence.tokens[skip:])
            visual = ids == self._image_token
            pixels, grid = sequence.prompt.images_from(skip)
            if pixels is not None and grid is not None:
                patches.append(pixels)
                grids.append(grid)
            rows.append((sequence, slot, skip, ids, visual))
        image_embeds: torch.Tensor | None = None
        deepstack: list[torch.Tensor] = []
        if patches:  # every joiner's screenshots in one encoder call
            encoded = self._visual(
                torch.cat(patches).to(device, self._visual.dtype),
                grid_thw=torch.cat(grids).to(device),
                return_dict=True,
            )
            image_embeds = _joined(encoded.pooler_output)
            deepstack = [_joined(feature) for feature in encoded.deepstack_features]
        partials: list[PartialPrefill] = []
        taken = 0  # image tokens handed out so far, in the joiners' order
        for sequence, slot, skip, ids, visual in rows:
            embeds = self._embed(ids.to(device)).unsqueeze(0)
            count = int(visual.sum())
            own_visual = own_deepstack = None
            if count and image_embeds is not None:
                mine = image_embeds[taken : taken + count].to(embeds.dtype)
                mask = visual.to(device).view(1, -1, 1).expand_as(embeds)
                embeds = embeds.masked_scatter(mask, mine)
                own_deepstack = [f[taken : taken + count].to(embeds.dtype) for f in deepstack]
                own_visual = visual
                taken += count
            positions = sequence.prompt.positions_of(skip, len(sequence.tokens)).unsqueeze(1)
            partials.append(
                PartialPrefill(
                    sequence,
                    slot,
                    embeds,
                    positions.to(device),
                    own_visual,
                    own_deepstack,
                    skip,
                )
            )
        return partials


def _joined(features: torch.Tensor | tuple[torch.Tensor, ...] | list[torch.Tensor]) -> torch.Tensor:
    """One tensor from vision features, whole or split per image (transformers versions differ)."""
    return features if isinstance(features, torch.Tensor) else torch.cat(list(features))
