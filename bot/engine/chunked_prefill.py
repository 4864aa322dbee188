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
in one call of the vision encoder (it takes images of any sizes at once), on
an accelerator, where a call's cost is mostly its kernel launches. On the
CPU each image is encoded alone: the encoder attends within each image
anyway, so one call saves no arithmetic, and eight screenshots' activations
at once fall out of the caches (one call took 12-23% more CPU time than
eight, tiny checkpoint, docs/benchmarks.md).
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
    """Builds `PartialPrefill`s for `model`: embeddings and the vision encoding of a round."""

    def __init__(self, model: Any, *, one_encoder_call: bool | None = None) -> None:
        self._model = model
        inner = model.model
        self._embed = inner.get_input_embeddings()
        self._visual = inner.visual
        self._image_token = int(model.config.image_token_id)
        # Unless told, one call for every image off the CPU, one per image on it.
        if one_encoder_call is None:
            one_encoder_call = torch.device(model.device).type != "cpu"
        self._one_call = one_encoder_call

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
        if patches:
            image_embeds, deepstack = self._encode(torch.cat(patches), torch.cat(grids))
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

    def _encode(
        self, patches: torch.Tensor, grids: torch.Tensor
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Image embeddings and DeepStack features of every image, in order."""
        device = self._model.device
        if self._one_call:
            calls = [(patches, grids)]
        else:  # a grid row is one image of t*h*w patches, in the patches' order
            sizes = [int(t * h * w) for t, h, w in grids.tolist()]
            calls = list(zip(torch.split(patches, sizes), torch.split(grids, 1), strict=True))
        embeds: list[torch.Tensor] = []
        deepstack: list[list[torch.Tensor]] = []
        for pixels, grid in calls:
            encoded = self._visual(
                pixels.to(device, self._visual.dtype), grid_thw=grid.to(device), return_dict=True
            )
            embeds.append(_joined(encoded.pooler_output))
            deepstack.append([_joined(feature) for feature in encoded.deepstack_features])
        return torch.cat(embeds), [torch.cat(layer) for layer in zip(*deepstack, strict=True)]


def _joined(features: torch.Tensor | tuple[torch.Tensor, ...] | list[torch.Tensor]) -> torch.Tensor:
    """One tensor from vision features, whole or split per image (transformers versions differ)."""
    return features if isinstance(features, torch.Tensor) else torch.cat(list(features))
