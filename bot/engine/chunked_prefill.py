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
eight, tiny checkpoint, docs/benchmarks.md). An image encoded lately is not
encoded again: `encode` takes it from the `EncoderCache` by its digest, and
one encoded ahead of admission (`encode_ahead`) from its request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from collections.abc import Sequence as Seq
from dataclasses import dataclass
from typing import Any

import torch

from bot.engine.encoder_cache import EncoderCache, Encoding, HeldEncodings
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

    def __init__(
        self,
        model: Any,
        *,
        encodings: EncoderCache | None = None,
        observe: Callable[[str, float], None] | None = None,
        one_encoder_call: bool | None = None,
    ) -> None:
        self._model = model
        inner = model.model
        self._embed = inner.get_input_embeddings()
        self._visual = inner.visual
        self._merge = int(self._visual.spatial_merge_size) ** 2  # patches per image token
        self._image_token = int(model.config.image_token_id)
        self._encodings = encodings if encodings is not None else EncoderCache(0)
        self._observe = observe or (lambda _name, _value: None)
        # Unless told, one call for every image off the CPU, one per image on it.
        if one_encoder_call is None:
            one_encoder_call = torch.device(model.device).type != "cpu"
        self._one_call = one_encoder_call

    def begin(self, joiners: Seq[tuple[Sequence, PrefixHit | None, int]]) -> list[PartialPrefill]:
        """Embed each joiner's tokens after its prefix; `joiners` are (sequence, hit, slot)."""
        device = self._model.device
        patches: list[torch.Tensor] = []
        grids: list[torch.Tensor] = []
        digests: list[str] = []
        rows: list[tuple[Sequence, int, int, torch.Tensor, torch.Tensor]] = []
        ready = ready_encodings(sequence for sequence, _, _ in joiners)
        for sequence, hit, slot in joiners:
            skip = hit.length if hit is not None else 0
            ids = torch.tensor(sequence.tokens[skip:])
            visual = ids == self._image_token
            pixels, grid = sequence.prompt.images_from(skip)
            if pixels is not None and grid is not None:
                patches.append(pixels)
                grids.append(grid)
                digests += sequence.prompt.digests_from(skip)
            rows.append((sequence, slot, skip, ids, visual))
        image_embeds: torch.Tensor | None = None
        deepstack: list[torch.Tensor] = []
        if patches:
            image_embeds, deepstack = self.encode(
                torch.cat(patches), torch.cat(grids), digests, ready
            )
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

    def embed_with_images(
        self,
        ids: torch.Tensor,
        patches: torch.Tensor,
        grids: torch.Tensor,
        digests: Seq[str],
        ready: Mapping[str, Encoding] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """Input embeddings of a padded batch `ids` [rows, width] with its images' encodings
        scattered into their placeholder tokens (row by row, as the model's forward does);
        the [rows, width] image-token mask and the DeepStack features, for the text model."""
        device = self._model.device
        ids = ids.to(device)
        embeds = self._embed(ids)
        image_embeds, deepstack = self.encode(patches, grids, digests, ready)
        visual = ids == self._image_token
        mask = visual.unsqueeze(-1).expand_as(embeds)
        embeds = embeds.masked_scatter(mask, image_embeds.to(device, embeds.dtype))
        return embeds, visual, [layer.to(device, embeds.dtype) for layer in deepstack]

    def encode(
        self,
        patches: torch.Tensor,
        grids: torch.Tensor,
        digests: Seq[str],
        ready: Mapping[str, Encoding] | None = None,
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Image embeddings and DeepStack features of every image, in order; `digests`
        name the images' contents, one per grid row. Images encoded ahead come from
        `ready`, images encoded lately from the cache; the others are encoded (all in
        one call off the CPU). Every image's encoding is kept in the cache."""
        ready = ready or {}
        images = _split(patches, grids)
        known: dict[str, Encoding | None] = {}
        for digest in digests:
            if digest not in known:
                known[digest] = ready.get(digest) or self._encodings.get(digest)
        cached = sum(1 for d in digests if d not in ready and known[d] is not None)
        self._observe("supportbot_engine_reused_image_encodings", cached)
        for digest in set(digests) & set(ready):
            _read_on_this_stream(ready[digest])
            self._encodings.put(digest, ready[digest])
        fresh = self._encode_new(images, digests, lambda digest: known[digest] is not None)
        for digest, encoding in fresh.items():
            self._encodings.put(digest, encoding)
        known.update(fresh)
        done = [found for digest in digests if (found := known[digest]) is not None]
        return (
            torch.cat([encoding.embeds for encoding in done]),
            [torch.cat(layer) for layer in zip(*(e.deepstack for e in done), strict=True)],
        )

    def encode_missing(
        self, patches: torch.Tensor, grids: torch.Tensor, digests: Seq[str]
    ) -> dict[str, Encoding]:
        """Encodings of the images the cache does not hold, by digest (each image once);
        for encoding ahead of admission, on any thread."""
        return self._encode_new(_split(patches, grids), digests, self._encodings.__contains__)

    def _encode_new(
        self,
        images: list[tuple[torch.Tensor, torch.Tensor]],
        digests: Seq[str],
        known: Callable[[str], bool],
    ) -> dict[str, Encoding]:
        """Encodings of the images whose digest is not `known`, by digest: each new image
        once, though two joiners bring it."""
        wanted: dict[str, int] = {}
        for index, digest in enumerate(digests):
            if digest not in wanted and not known(digest):
                wanted[digest] = index
        if not wanted:
            return {}
        fresh = self._encode_all([images[index] for index in wanted.values()])
        return dict(zip(wanted, fresh, strict=True))

    def _encode_all(self, images: list[tuple[torch.Tensor, torch.Tensor]]) -> list[Encoding]:
        """Each image's encoding, in one encoder call or one per image (`one_encoder_call`)."""
        device = self._model.device
        calls = (
            [(torch.cat([p for p, _ in images]), torch.cat([g for _, g in images]))]
            if self._one_call
            else images
        )
        embeds: list[torch.Tensor] = []
        deepstack: list[list[torch.Tensor]] = []
        for pixels, grid in calls:
            encoded = self._visual(
                pixels.to(device, self._visual.dtype), grid_thw=grid.to(device), return_dict=True
            )
            embeds.append(_joined(encoded.pooler_output))
            deepstack.append([_joined(feature) for feature in encoded.deepstack_features])
        joined = torch.cat(embeds)
        layers = [torch.cat(layer) for layer in zip(*deepstack, strict=True)]
        tokens = [pixels.shape[0] // self._merge for pixels, _ in images]
        # Views of one call's output would keep all of it alive while the cache
        # counts only its own part: each image gets its own copy.
        copy = len(images) > 1
        return [
            Encoding(_owned(mine, copy), tuple(_owned(part, copy) for part in parts))
            for mine, *parts in zip(
                torch.split(joined, tokens), *(torch.split(f, tokens) for f in layers), strict=True
            )
        ]


def ready_encodings(sequences: Iterable[Sequence]) -> dict[str, Encoding]:
    """The encodings made ahead for `sequences`, by digest; each request gives its own up
    (its share of the ahead budget is returned once nothing else holds them)."""
    ready: dict[str, Encoding] = {}
    for sequence in sequences:
        held: HeldEncodings | None = sequence.encoded
        if held is not None:
            ready.update(held.encodings)
            sequence.encoded = None
    return ready


def _split(patches: torch.Tensor, grids: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(patches, grid) of each image: one grid row an image."""
    sizes = [int(t * h * w) for t, h, w in grids.tolist()]
    return list(zip(torch.split(patches, sizes), torch.split(grids, 1), strict=True))


def _read_on_this_stream(encoding: Encoding) -> None:
    """An encoding made on another CUDA stream is read on this thread's: its memory must
    not be reused for that stream's work before this one is done with it."""
    for tensor in (encoding.embeds, *encoding.deepstack):
        if tensor.is_cuda:
            tensor.record_stream(torch.cuda.current_stream(tensor.device))


def _owned(tensor: torch.Tensor, copy: bool) -> torch.Tensor:
    return tensor.clone() if copy else tensor


def _joined(features: torch.Tensor | tuple[torch.Tensor, ...] | list[torch.Tensor]) -> torch.Tensor:
    """One tensor from vision features, whole or split per image (transformers versions differ)."""
    return features if isinstance(features, torch.Tensor) else torch.cat(list(features))
