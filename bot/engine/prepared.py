"""A prompt turned into model inputs, ready before the GPU thread needs it.

Decoding the screenshots, resizing them, running the image processor and
computing the multimodal rotary positions all happen here, on a preprocessing
thread, so the thread that owns the GPU only runs the model.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

import torch


@dataclass(frozen=True)
class PromptImage:
    """One image of a prompt: patches [patches, dim], grid [1, 3] (t, h, w), content digest."""

    patches: torch.Tensor
    grid: torch.Tensor
    digest: str


@dataclass(frozen=True)
class PreparedPrompt:
    """One prompt's token ids, images and positions (batch of one, on the CPU).

    `positions` is [4, length]: the text position, then the three M-RoPE rows
    (time, height, width). After the prompt every row advances by one per token,
    the rope rows offset by `rope_delta`.
    """

    token_ids: tuple[int, ...]
    positions: torch.Tensor
    rope_delta: int
    mm_token_type_ids: torch.Tensor  # [length]; 1 where an image token sits
    pixel_values: torch.Tensor | None  # patches of every image, in order
    image_grid_thw: torch.Tensor | None  # [images, 3]
    image_digests: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.token_ids)

    @cached_property  # read at each chunk of a joiner; the token kinds never change
    def image_spans(self) -> tuple[tuple[int, int], ...]:
        """[start, end) token range of each image, in order."""
        spans: list[tuple[int, int]] = []
        start = None
        for index, kind in enumerate([*self.mm_token_type_ids.tolist(), 0]):
            if kind and start is None:
                start = index
            elif not kind and start is not None:
                spans.append((start, index))
                start = None
        return tuple(spans)

    def positions_of(self, start: int, end: int) -> torch.Tensor:
        """Positions [4, end - start] of tokens start..end-1, past the prompt included."""
        inside = self.positions[:, start : min(end, len(self))]
        if end <= len(self):
            return inside
        after = torch.arange(max(start, len(self)), end)
        beyond = torch.stack([after, *(after + self.rope_delta,) * 3])
        return torch.cat([inside, beyond], dim=1)

    def images_from(self, first_token: int) -> list[PromptImage]:
        """The images that start at or after `first_token`, in order; their patches are
        views of `pixel_values` (no copy: one screenshot's patches are tens of MB)."""
        if self.pixel_values is None or self.image_grid_thw is None:
            return []
        sizes = self.image_grid_thw.prod(-1).tolist()
        patches = torch.split(self.pixel_values, sizes)
        grids = torch.split(self.image_grid_thw, 1)
        return [
            PromptImage(patches[index], grids[index], self.image_digests[index])
            for index, (start, _) in enumerate(self.image_spans)
            if start >= first_token
        ]


def image_digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()
