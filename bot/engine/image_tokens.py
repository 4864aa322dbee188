"""The image-token rule: how Qwen-VL resizes a screenshot and what it costs in tokens.

One rule for every place that counts image tokens: the in-process engine's
prompt budget (read from the loaded processor), the remote engine's estimate
and the eval's legibility report. Qwen's image processor scales an image
(keeping its aspect) so both sides are multiples of the patch grid and the
area fits between its minimum and a cap (`smart_resize`); each
factor x factor square becomes one token. Pure arithmetic, importable without
torch or transformers (a slim replica has neither).
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from PIL import Image

from bot.engine.request import ImagePart

# Qwen3-VL's image processor (preprocessor_config.json of Qwen/Qwen3-VL-8B-Instruct):
# 16-px patches merged 2x2, so sides are multiples of 32; at least 65,536 pixels.
QWEN3_VL_FACTOR = 32
QWEN3_VL_MIN_PIXELS = 65_536
QWEN3_VL_MAX_PIXELS = 16_777_216


@dataclass(frozen=True)
class ResizeRule:
    """The engine's resize: sides in multiples of `factor`, area in [min_pixels, max_pixels]."""

    factor: int
    min_pixels: int
    max_pixels: int
    source: str  # where the numbers come from, for the report

    def input_size(self, width: int, height: int) -> tuple[int, int]:
        """(width, height) of the image as the model receives it."""
        # Qwen's arithmetic without importing transformers (seconds; absent from a slim
        # replica): the unit tests hold it equal to transformers' own `smart_resize`.
        new_height, new_width = published_smart_resize(
            height,
            width,
            factor=self.factor,
            min_pixels=self.min_pixels,
            max_pixels=self.max_pixels,
        )
        return int(new_width), int(new_height)

    def tokens(self, width: int, height: int) -> int:
        """Image tokens the model spends on it (one per factor x factor square)."""
        new_width, new_height = self.input_size(width, height)
        return (new_width // self.factor) * (new_height // self.factor)

    def image_tokens(self, image: ImagePart) -> int:
        """`tokens` of an engine request's image, its size read from the header when unknown."""
        return self.tokens(*image_size(image))


def published_smart_resize(
    height: int, width: int, *, factor: int, min_pixels: int, max_pixels: int
) -> tuple[int, int]:
    """Qwen2-VL's `smart_resize` (transformers, `image_processing_qwen2_vl.py`), step for step.

    Kept here so that the remote engine and the eval need no transformers;
    `tests/unit/bot/evaluation/test_legibility.py` holds it equal to transformers' own.
    """
    if max(height, width) / min(height, width) > 200:
        raise ValueError(f"absolute aspect ratio must be smaller than 200, got {height}x{width}")
    h_bar = round(height / factor) * factor
    w_bar = round(width / factor) * factor
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, math.floor(height / beta / factor) * factor)
        w_bar = max(factor, math.floor(width / beta / factor) * factor)
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


def qwen3_vl_rule(max_image_pixels: int, *, source: str = "Qwen3-VL defaults") -> ResizeRule:
    """Qwen3-VL's published resize with its cap lowered to `max_image_pixels`."""
    return ResizeRule(
        QWEN3_VL_FACTOR,
        QWEN3_VL_MIN_PIXELS,
        min(QWEN3_VL_MAX_PIXELS, max_image_pixels),
        source,
    )


def processor_pixel_cap(size: Mapping[str, Any], max_image_pixels: int) -> int:
    """The image processor's pixel cap as the engine runs it: lowered to MAX_IMAGE_PIXELS."""
    longest = size.get("longest_edge") or size.get("max_pixels") or QWEN3_VL_MAX_PIXELS
    return int(min(int(longest), max_image_pixels))


def rule_from_processor(image_processor: Any, max_image_pixels: int, *, source: str) -> ResizeRule:
    """The resize `image_processor` (a loaded Qwen-VL image processor) applies in the engine."""
    size = image_processor.size
    factor = int(image_processor.patch_size) * int(image_processor.merge_size)
    shortest = size.get("shortest_edge") or size.get("min_pixels") or QWEN3_VL_MIN_PIXELS
    cap = processor_pixel_cap(size, max_image_pixels)
    # The engine lowers the processor's cap to MAX_IMAGE_PIXELS, never raises it.
    return ResizeRule(factor, min(int(shortest), cap), cap, source)


def image_size(image: ImagePart) -> tuple[int, int]:
    """(width, height) of `image`; read from its header when the request does not say."""
    if image.width and image.height:
        return image.width, image.height
    with Image.open(io.BytesIO(image.data)) as opened:
        return opened.size
