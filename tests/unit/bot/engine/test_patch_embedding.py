"""The vision encoder's patch embedding, run as one matrix product over its Conv3d's weight.

The engine's model is the tiny checkpoint loaded by the engine's own path
(`tiny_engine`); the reference is the same checkpoint loaded as saved and
left alone. Pixels are the processor's patches of a rendered screenshot.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image, ImageDraw
from torch.profiler import ProfilerActivity, profile
from transformers import AutoModelForImageTextToText

from bot.engine.patch_embedding import embed_patches_as_linear
from bot.engine.transformers_engine import TransformersEngine

pytestmark = pytest.mark.slow


def _screenshot_patches(engine: TransformersEngine) -> tuple[torch.Tensor, torch.Tensor]:
    image = Image.new("RGB", (960, 540), (30, 30, 30))
    ImageDraw.Draw(image).text((10, 10), "ModuleNotFoundError: No module named 'x'", fill="white")
    inputs = engine._processor.image_processor(images=[image], return_tensors="pt")
    return inputs["pixel_values"], inputs["image_grid_thw"]


@pytest.fixture(scope="module")
def as_saved(tiny_checkpoint: Path) -> Any:
    return AutoModelForImageTextToText.from_pretrained(tiny_checkpoint).eval()


def test_the_engine_encodes_a_screenshot_without_a_convolution(
    tiny_engine: TransformersEngine,
) -> None:
    pixels, grid = _screenshot_patches(tiny_engine)
    with torch.inference_mode(), profile(activities=[ProfilerActivity.CPU]) as run:
        tiny_engine._model.model.visual(pixels, grid_thw=grid)
    ran = {event.key for event in run.key_averages()}
    assert "aten::linear" in ran
    assert not {"aten::conv3d", "aten::convolution"} & ran, sorted(ran)


def test_the_matrix_product_encodes_a_screenshot_as_the_conv3d_does(
    tiny_engine: TransformersEngine, as_saved: Any
) -> None:
    pixels, grid = _screenshot_patches(tiny_engine)
    with torch.inference_mode():
        ours = tiny_engine._model.model.visual(pixels, grid_thw=grid, return_dict=True)
        theirs = as_saved.model.visual(pixels, grid_thw=grid, return_dict=True)
    # The same sums in another order: equal to float32 rounding, not bit for bit.
    torch.testing.assert_close(ours.pooler_output, theirs.pooler_output, rtol=1e-4, atol=1e-5)
    for mine, reference in zip(ours.deepstack_features, theirs.deepstack_features, strict=True):
        torch.testing.assert_close(mine, reference, rtol=1e-4, atol=1e-5)


def test_an_overlapping_convolution_is_left_as_it_is() -> None:
    class Visual(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.patch_embed = torch.nn.Module()
            self.patch_embed.proj = torch.nn.Conv3d(3, 8, kernel_size=(2, 4, 4), stride=(2, 2, 2))

    visual = Visual()
    assert not embed_patches_as_linear(visual)
    assert "forward" not in vars(visual.patch_embed)
    assert not embed_patches_as_linear(torch.nn.Module())  # no patch embedding at all
