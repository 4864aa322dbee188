"""Request preparation: the prompt rendered, tokenised and its images made patches.

CPU work that runs on the engine's preparation pool, beside the model's
thread: the processor's own chat template, image decoding and resizing, the
image processor, and the multimodal rope positions. Also the prompt's token
count the conversation core budgets prompts with (images by `image_tokens`).

The processor's steps are taken one by one, as its `__call__` takes them
(images through the image processor, each image placeholder repeated once
per image token, the tokenizer), so that a screenshot seen lately (its grid
kept in `ImageGrids`) whose encoding is at hand skips the image work: the
engine says which (`EncodingsAtHand`: a follow-up's screenshots under its
thread's cached prefix, ones in the encoder cache or being encoded). Its
patches are made later only if they are read after all (the encoding was
dropped in between). The unit tests hold the result equal to the
processor's own call.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import torch

from bot.engine.image_grids import Grid, ImageGrids
from bot.engine.image_tokens import rule_from_processor
from bot.engine.images import decode_for_model
from bot.engine.prepared import (
    ImagePatches,
    ImagesInPrompt,
    PreparedPrompt,
    image_digest,
    image_spans_of,
)
from bot.engine.request import ChatMessage, GenerationRequest, ImagePart, TextPart

# Which of a prompt's images (indices) need no encoding made: the engine holds them.
EncodingsAtHand = Callable[[ImagesInPrompt], set[int]]


class PromptPreparer:
    """Turns a `GenerationRequest` into the `PreparedPrompt` the runner prefills."""

    def __init__(self, model: Any, processor: Any, *, max_image_pixels: int) -> None:
        self._model = model
        self._processor = processor
        self._rule = rule_from_processor(
            processor.image_processor, max_image_pixels, source="the engine's image processor"
        )
        self._image_token = str(processor.image_token)
        self._image_token_id = int(processor.tokenizer.convert_tokens_to_ids(self._image_token))
        self._merge = int(processor.image_processor.merge_size) ** 2  # patches per token
        # The image processor resizes by the same rule that counts the image tokens.
        size = dict(processor.image_processor.size)
        size["shortest_edge"], size["longest_edge"] = self._rule.min_pixels, self._rule.max_pixels
        self._size = size
        self._grids = ImageGrids()

    def render(self, request: GenerationRequest) -> str:
        """The prompt text, formatted by the processor's own chat template."""
        return str(
            self._processor.apply_chat_template(
                [_as_template_message(message) for message in request.messages],
                tokenize=False,
                add_generation_prompt=True,
            )
        )

    def count_tokens(self, request: GenerationRequest) -> int:
        """Prompt tokens of `request` as the model will see them, image tokens included."""
        text_tokens = len(self._processor.tokenizer(self.render(request))["input_ids"])
        # The rendered prompt holds one <|image_pad|> per image; the processor expands each.
        return text_tokens + sum(self.image_tokens(image) - 1 for image in request.images)

    def image_tokens(self, image: ImagePart) -> int:
        """Tokens the model sees for `image` once resized to the pixel cap."""
        return self._rule.image_tokens(image)

    def prepare(
        self, request: GenerationRequest, at_hand: EncodingsAtHand | None = None
    ) -> PreparedPrompt:
        """Token ids, image patches and positions of `request` (CPU work, any thread).

        Images `at_hand` names, seen lately, are left without patches until read.
        """
        digests = tuple(image_digest(image.data) for image in request.images)
        grids: list[Grid | None] = [self._grids.get(digest) for digest in digests]
        patches: dict[int, ImagePatches] = {}
        unseen = [index for index, grid in enumerate(grids) if grid is None]
        for index, (made, grid) in zip(unseen, self._patches_of(request, unseen), strict=True):
            patches[index], grids[index] = ImagePatches(made), grid
            self._grids.put(digests[index], grid)
        known = [grid for grid in grids if grid is not None]  # every image's, by now
        grid_thw = torch.tensor(known, dtype=torch.long) if known else None
        input_ids = self._token_ids(self.render(request), known)
        kinds = (input_ids[0] == self._image_token_id).to(torch.long)
        text = torch.arange(input_ids.shape[1]).unsqueeze(0)
        if grid_thw is not None:
            rope, delta = self._model.model.get_rope_index(
                input_ids, mm_token_type_ids=kinds.unsqueeze(0), image_grid_thw=grid_thw
            )
            positions, rope_delta = torch.cat([text, rope[:, 0, :]]), int(delta.reshape(-1)[0])
        else:
            positions, rope_delta = text.expand(4, -1), 0
        token_ids = tuple(int(token) for token in input_ids[0].tolist())
        seen = [index for index in range(len(digests)) if index not in patches]
        spared: set[int] = set()
        if at_hand is not None and seen:
            layout = ImagesInPrompt(request.reuse_key, token_ids, image_spans_of(kinds), digests)
            spared = at_hand(layout) & set(seen)
        for index in spared:
            patches[index] = ImagePatches(make=partial(self._patches_again, request, index, known))
        wanted = [index for index in seen if index not in spared]
        for index, (made, grid) in zip(wanted, self._patches_of(request, wanted), strict=True):
            _check_grid(grid, known[index])
            patches[index] = ImagePatches(made)
        return PreparedPrompt(
            token_ids=token_ids,
            positions=positions.clone(),
            rope_delta=rope_delta,
            mm_token_type_ids=kinds,
            image_patches=tuple(patches[index] for index in range(len(digests))),
            image_grid_thw=grid_thw,
            image_digests=digests,
        )

    def _patches_of(
        self, request: GenerationRequest, indices: Sequence[int]
    ) -> list[tuple[torch.Tensor, Grid]]:
        """The patches and grid of each of `request`'s images at `indices`, from one call
        of the image processor (which resizes by the rule that counts the image tokens)."""
        if not indices:
            return []
        images = [decode_for_model(request.images[index].data) for index in indices]
        inputs = self._processor.image_processor(
            images=images, size=self._size, return_tensors="pt"
        )
        grids = [(int(t), int(h), int(w)) for t, h, w in inputs["image_grid_thw"].tolist()]
        pixels = torch.split(inputs["pixel_values"], [t * h * w for t, h, w in grids])
        return list(zip(pixels, grids, strict=True))

    def _patches_again(
        self, request: GenerationRequest, index: int, grids: list[Grid]
    ) -> torch.Tensor:
        """An image's patches made after all (its encoding went before it was needed)."""
        ((made, grid),) = self._patches_of(request, [index])
        _check_grid(grid, grids[index])
        return made

    def _token_ids(self, rendered: str, grids: list[Grid]) -> torch.Tensor:
        """[1, length] token ids of the rendered prompt, each image placeholder repeated
        once per image token of its image (the processor's own expansion)."""
        pieces = rendered.split(self._image_token)
        if len(pieces) != len(grids) + 1:
            raise ValueError(
                f"the prompt has {len(pieces) - 1} image placeholders for {len(grids)} images"
            )
        expanded = [pieces[0]]
        for (t, h, w), piece in zip(grids, pieces[1:], strict=True):
            expanded += [self._image_token * (t * h * w // self._merge), piece]
        ids: torch.Tensor = self._processor.tokenizer(["".join(expanded)], return_tensors="pt")[
            "input_ids"
        ]
        return ids.to(torch.long)


def _check_grid(made: Grid, expected: Grid) -> None:
    if made != expected:  # the same bytes resized differently: never, unless a bug
        raise RuntimeError(f"an image's grid changed from {expected} to {made}")


def _as_template_message(message: ChatMessage) -> dict[str, Any]:
    content: list[dict[str, str]] = []
    for part in message.parts:
        if isinstance(part, TextPart):
            content.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            content.append({"type": "image"})
    return {"role": message.role.value, "content": content}
