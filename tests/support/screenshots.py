"""Render error screenshots like the ones users paste."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

TRACEBACK = [
    "Traceback (most recent call last):",
    '  File "/srv/app/main.py", line 12, in <module>',
    "    import requests",
    "ModuleNotFoundError: No module named 'requests'",
]


def render_error_screenshot(
    lines: list[str] | None = None, *, size: tuple[int, int] = (640, 400), image_format: str = "PNG"
) -> bytes:
    """A dark terminal window with the error text on it, encoded as `image_format`."""
    image = Image.new("RGB", size, (30, 30, 30))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, size[0], 24), fill=(60, 60, 60))
    for row, line in enumerate(lines or TRACEBACK):
        draw.text(
            (12, 36 + 18 * row), line, fill=(230, 80, 80) if "Error" in line else (220, 220, 220)
        )
    buffer = io.BytesIO()
    image.save(buffer, image_format)
    return buffer.getvalue()
