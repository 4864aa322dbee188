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
from bot.engine.prepared import PromptImage
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
        images: list[PromptImage] = []
        rows: list[tuple[Sequence, int, int, torch.Tensor, torch.Tensor]] = []
        ready = ready_encodings(sequence for sequence, _, _ in joiners)
        for sequence, hit, slot in joiners:
            skip = hit.length if hit is not None else 0
            ids = torch.tensor(sequence.tokens[skip:])
            visual = ids == self._image_token
            images += sequence.prompt.images_from(skip)
            rows.append((sequence, slot, skip, ids, visual))
        image_embeds: torch.Tensor | None = None
        deepstack: list[torch.Tensor] = []
        if images:
            image_embeds, deepstack = self.encode(images, ready)
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
        images: Seq[PromptImage],
        ready: Mapping[str, Encoding] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """Input embeddings of a padded batch `ids` [rows, width] with its images' encodings
        scattered into their placeholder tokens (row by row, as the model's forward does);
        the [rows, width] image-token mask and the DeepStack features, for the text model."""
        device = self._model.device
        ids = ids.to(device)
        embeds = self._embed(ids)
        image_embeds, deepstack = self.encode(images, ready)
        visual = ids == self._image_token
        mask = visual.unsqueeze(-1).expand_as(embeds)
        embeds = embeds.masked_scatter(mask, image_embeds.to(device, embeds.dtype))
        return embeds, visual, [layer.to(device, embeds.dtype) for layer in deepstack]

    def encode(
        self, images: Seq[PromptImage], ready: Mapping[str, Encoding] | None = None
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Image embeddings and DeepStack features of every image, in order. Images
        encoded ahead come from `ready`, images encoded lately from the cache; the
        others are encoded (all in one call off the CPU). Every image's encoding is
        kept in the cache. Only the images encoded here have their patches read."""
        ready = ready or {}
        digests = [image.digest for image in images]
        known: dict[str, Encoding | None] = {}
        for digest in digests:
            if digest not in known:
                known[digest] = ready.get(digest) or self._encodings.get(digest)
        cached = sum(1 for d in digests if d not in ready and known[d] is not None)
        self._observe("supportbot_engine_reused_image_encodings", cached)
        for digest in set(digests) & set(ready):
            _read_on_this_stream(ready[digest])
            self._encodings.put(digest, ready[digest])
        fresh = self._encode_new(images, lambda digest: known[digest] is not None)
        for digest, encoding in fresh.items():
            self._encodings.put(digest, encoding)
        known.update(fresh)
        done = [found for digest in digests if (found := known[digest]) is not None]
        return (
            _joined([encoding.embeds for encoding in done]),
            [_joined(layer) for layer in zip(*(e.deepstack for e in done), strict=True)],
        )

    def cached(self, digest: str) -> bool:
        """Whether the encoder cache holds the encoding of the image with `digest`."""
        return digest in self._encodings

    def encode_missing(self, images: Seq[PromptImage]) -> dict[str, Encoding]:
        """Encodings of the images the cache does not hold, by digest (each image once);
        for encoding ahead of admission, on any thread."""
        return self._encode_new(images, self._encodings.__contains__)

    def _encode_new(
        self, images: Seq[PromptImage], known: Callable[[str], bool]
    ) -> dict[str, Encoding]:
        """Encodings of the images whose digest is not `known`, by digest: each new image
        once, though two joiners bring it."""
        wanted: dict[str, PromptImage] = {}
        for image in images:
            if image.digest not in wanted and not known(image.digest):
                wanted[image.digest] = image
        if not wanted:
            return {}
        fresh = self._encode_all(list(wanted.values()))
        return dict(zip(wanted, fresh, strict=True))

    def _encode_all(self, images: list[PromptImage]) -> list[Encoding]:
        """Each image's encoding, in one encoder call or one per image (`one_encoder_call`)."""
        calls = [images] if self._one_call else [[image] for image in images]
        return [encoding for call in calls for encoding in self._encode_call(call)]

    def _encode_call(self, images: list[PromptImage]) -> list[Encoding]:
        """One vision-encoder call for `images`, split into each image's encoding."""
        device = self._model.device
        pixels = _joined([image.patches for image in images])
        grids = _joined([image.grid for image in images])
        encoded = self._visual(
            pixels.to(device, self._visual.dtype), grid_thw=grids.to(device), return_dict=True
        )
        embeds = _joined(encoded.pooler_output)
        layers = [_joined(feature) for feature in encoded.deepstack_features]
        if len(images) == 1:
            return [Encoding(embeds, tuple(layers))]
        tokens = [image.patches.shape[0] // self._merge for image in images]
        # Views of one call's output would keep all of it alive while the cache
        # counts only its own part: each image gets its own copy.
        return [
            Encoding(mine.clone(), tuple(part.clone() for part in parts))
            for mine, *parts in zip(
                torch.split(embeds, tokens), *(torch.split(f, tokens) for f in layers), strict=True
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


def _read_on_this_stream(encoding: Encoding) -> None:
    """An encoding made on another CUDA stream is read on this thread's: its memory must
    not be reused for that stream's work before this one is done with it."""
    for tensor in (encoding.embeds, *encoding.deepstack):
        if tensor.is_cuda:
            tensor.record_stream(torch.cuda.current_stream(tensor.device))


def _joined(parts: torch.Tensor | tuple[torch.Tensor, ...] | list[torch.Tensor]) -> torch.Tensor:
    """One tensor from parts in order (vision features come whole or per image, as
    transformers versions differ); a lone part is handed back, not copied."""
    if isinstance(parts, torch.Tensor):
        return parts
    return parts[0] if len(parts) == 1 else torch.cat(list(parts))
