"""The one image-token rule: the remote engine counts images by it, sizes read when unknown."""

from __future__ import annotations

import io

from PIL import Image

from bot.engine import ChatMessage, GenerationRequest, ImagePart, Role, TextPart
from bot.engine.image_tokens import image_size, qwen3_vl_rule
from bot.engine.remote import RemoteEngine


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(out, format="PNG")
    return out.getvalue()


def test_an_image_without_a_stated_size_is_measured_from_its_header() -> None:
    assert image_size(ImagePart(data=_png(640, 200))) == (640, 200)
    assert image_size(ImagePart(data=b"", width=3, height=4)) == (3, 4)


def test_the_remote_estimate_counts_images_by_the_capped_resize() -> None:
    cap = 1280 * 1024
    engine = RemoteEngine("http://127.0.0.1:9", "m", readiness_delays=(), max_image_pixels=cap)
    shot = ImagePart(data=_png(3840, 2160))
    request = GenerationRequest(messages=(ChatMessage(Role.USER, (TextPart("abcdef"), shot)),))
    tokens = qwen3_vl_rule(cap).tokens(3840, 2160)
    # A 4K screenshot is resized below the cap before the model sees it: far fewer
    # tokens than one per 32x32 square of the original.
    assert tokens < 3840 * 2160 // (32 * 32)
    assert engine.count_tokens(request) == 6 // 3 + tokens
