"""Decode an image for the model: upright, first frame, 8-bit RGB on white."""

from __future__ import annotations

import io

from PIL import Image, ImageOps


def sniff_image_type(head: bytes) -> str | None:
    """The media type from the file's magic bytes, or None when it is no allowed image."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def to_model_rgb(image: Image.Image) -> Image.Image:
    """Normalise any Pillow image to 8-bit RGB, the way a person would see it.

    EXIF orientation is applied to `image` itself (callers pass an image they
    decoded for this); animated images give their first frame; transparency is
    flattened onto white (screenshots with alpha are mostly UI); palette, CMYK,
    grey and 16/32-bit modes are converted. The result is always a new image.
    """
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)
    # In place: a copy of a 1920x1080 screenshot costs more than its transpose check.
    ImageOps.exif_transpose(image, in_place=True)
    if image.mode in {"I;16", "I;16B", "I;16L", "I"}:
        # 16/32-bit greyscale: scale to 8 bits instead of clipping everything to white.
        image = image.point(lambda value: value / 256).convert("L")
    if image.mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    if image.mode in {"RGBA", "LA", "PA"}:
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


def decode_for_model(data: bytes) -> Image.Image:
    with Image.open(io.BytesIO(data)) as opened:
        return to_model_rgb(opened)
