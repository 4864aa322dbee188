"""A prompt turned into model inputs, ready before the GPU thread needs it.

Decoding the screenshots, resizing them, running the image processor and
computing the multimodal rotary positions all happen on a preprocessing
thread (`preparation`), so the thread that owns the GPU only runs the model.
A screenshot whose encoding is already at hand (a follow-up's, whose
thread's cached prefix covers it; one encoded lately) needs no patches at
all: its `ImagePatches` are made only if something reads them after all.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import torch


class ImagePatches:
    """One image's patches [patches, dim]: given, or made by `make` when first read.

    Thread-safe: the thread encoding screenshots ahead and the model thread may
    both read them, and the work is done once.
    """

    def __init__(
        self, patches: torch.Tensor | None = None, *, make: Callable[[], torch.Tensor] | None = None
    ) -> None:
        if (patches is None) == (make is None):
            raise ValueError("give the patches or the way to make them, not both")
        self._patches = patches
        self._make = make
        self._lock = threading.Lock()

    @property
    def made(self) -> bool:
        """Whether the patches exist now (reading them costs nothing more)."""
        return self._patches is not None

    def get(self) -> torch.Tensor:
        if self._patches is None:
            with self._lock:
                if self._patches is None:
                    assert self._make is not None
                    self._patches, self._make = self._make(), None
        return self._patches


@dataclass(frozen=True)
class PromptImage:
    """One image of a prompt: its patches, grid [1, 3] (t, h, w), content digest."""

    pixels: ImagePatches
    grid: torch.Tensor
    digest: str

    @property
    def patches(self) -> torch.Tensor:
        """[patches, dim], made now if they were left for when they are needed."""
        return self.pixels.get()


@dataclass(frozen=True)
class ImagesInPrompt:
    """Where a prompt's images sit, for asking which encodings the engine holds: the
    request's thread, the prompt's token ids, each image's [start, end) tokens, its digest."""

    reuse_key: str | None
    token_ids: tuple[int, ...]
    spans: tuple[tuple[int, int], ...]
    digests: tuple[str, ...]


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
    image_patches: tuple[ImagePatches, ...]  # each image's, in order
    image_grid_thw: torch.Tensor | None  # [images, 3]
    image_digests: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.token_ids)

    def images_in(self, reuse_key: str | None) -> ImagesInPrompt:
        """Where this prompt's images sit, as the request of thread `reuse_key`."""
        return ImagesInPrompt(reuse_key, self.token_ids, self.image_spans, self.image_digests)

    @cached_property  # read at each chunk of a joiner; the token kinds never change
    def image_spans(self) -> tuple[tuple[int, int], ...]:
        """[start, end) token range of each image, in order."""
        return image_spans_of(self.mm_token_type_ids)

    def positions_of(self, start: int, end: int) -> torch.Tensor:
        """Positions [4, end - start] of tokens start..end-1, past the prompt included."""
        inside = self.positions[:, start : min(end, len(self))]
        if end <= len(self):
            return inside
        after = torch.arange(max(start, len(self)), end)
        beyond = torch.stack([after, *(after + self.rope_delta,) * 3])
        return torch.cat([inside, beyond], dim=1)

    def images_from(self, first_token: int) -> list[PromptImage]:
        """The images that start at or after `first_token`, in order."""
        if self.image_grid_thw is None:
            return []
        grids = torch.split(self.image_grid_thw, 1)
        return [
            PromptImage(self.image_patches[index], grids[index], self.image_digests[index])
            for index, (start, _) in enumerate(self.image_spans)
            if start >= first_token
        ]


def image_spans_of(kinds: torch.Tensor) -> tuple[tuple[int, int], ...]:
    """[start, end) of each run of image tokens in `kinds` [length] (1 at image tokens)."""
    spans: list[tuple[int, int]] = []
    start = None
    for index, kind in enumerate([*kinds.tolist(), 0]):
        if kind and start is None:
            start = index
        elif not kind and start is not None:
            spans.append((start, index))
            start = None
    return tuple(spans)


def image_digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=16).hexdigest()
