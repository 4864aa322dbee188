"""Hostile and unusual images: each is read correctly or refused with one clear reason."""

from __future__ import annotations

import io
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from bot.engine.images import decode_for_model, to_model_rgb
from bot.errors import AttachmentError, AttachmentRefused
from bot.messages import Message
from bot.safety.image_checks import validate_image
from tests.support.screenshots import render_error_screenshot


def _encode(image: Image.Image, image_format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def test_exif_orientation_is_applied() -> None:
    tall = Image.new("RGB", (20, 40), "white")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    data = _encode(tall, "JPEG", exif=exif.tobytes())
    assert decode_for_model(data).size == (40, 20)


@pytest.mark.parametrize(
    ("mode", "image_format"),
    [
        ("P", "PNG"),
        ("RGBA", "PNG"),
        ("LA", "PNG"),
        ("CMYK", "JPEG"),
        ("I;16", "PNG"),
        ("L", "PNG"),
        ("1", "PNG"),
    ],
)
def test_every_mode_becomes_8_bit_rgb(mode: str, image_format: str) -> None:
    data = _encode(Image.new(mode, (8, 8)), image_format)
    validate_image("x", data, max_pixels=10**6)
    decoded = decode_for_model(data)
    assert decoded.mode == "RGB" and decoded.size == (8, 8)


def test_transparency_is_flattened_onto_white() -> None:
    clear = Image.new("RGBA", (4, 4), (0, 0, 0, 0))
    assert to_model_rgb(clear).getpixel((0, 0)) == (255, 255, 255)


def test_sixteen_bit_grey_keeps_its_contrast() -> None:
    grey = Image.new("I;16", (2, 1))
    grey.putpixel((0, 0), 0)
    grey.putpixel((1, 0), 65535)
    rgb = to_model_rgb(grey)
    white = rgb.getpixel((1, 0))
    assert isinstance(white, tuple)
    assert rgb.getpixel((0, 0)) == (0, 0, 0) and white[0] >= 250


def test_animated_gif_gives_its_first_frame() -> None:
    frames = [Image.new("RGB", (6, 6), colour) for colour in ("red", "blue")]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    first = decode_for_model(buffer.getvalue())
    pixel = first.getpixel((0, 0))
    assert isinstance(pixel, tuple)
    assert pixel[0] > 200  # red, not blue


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge size (a decompression bomb's shape)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")
        )

    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 0, 0, 0, 0])
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    "side", [10_000, 12_000, 50_000]
)  # 100 M, 144 M (Pillow only warns), 2.5 G
def test_decompression_bombs_are_refused_not_decoded(side: int) -> None:
    with pytest.raises(AttachmentRefused) as refused:
        validate_image("bomb.png", _png_claiming(side, side), max_pixels=50_000_000)
    assert refused.value.reason is Message.REASON_TOO_MANY_PIXELS


def test_the_pixel_cap_is_configurable() -> None:
    data = render_error_screenshot(size=(400, 300))
    validate_image("ok.png", data, max_pixels=120_000)
    with pytest.raises(AttachmentRefused):
        validate_image("big.png", data, max_pixels=119_999)


VALID = [
    render_error_screenshot(size=(32, 24), image_format=f) for f in ("PNG", "JPEG", "GIF", "WEBP")
]


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(VALID),
    st.lists(st.tuples(st.integers(0, 4000), st.integers(0, 255)), max_size=12),
    st.integers(0, 4000),
)
def test_fuzzed_images_are_read_or_refused_never_crash(
    base: bytes, flips: list[tuple[int, int]], cut: int
) -> None:
    data = bytearray(base)
    for position, value in flips:
        if position < len(data):
            data[position] = value
    mutated = bytes(data[: max(cut, 1)] if cut < len(data) else data)
    try:
        shot = validate_image("fuzz", mutated, max_pixels=10**6)
    except AttachmentError as error:
        assert error.reason in Message
        return
    assert decode_for_model(shot.data).mode == "RGB"  # what passed, the engine can read


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=2048))
def test_random_bytes_are_refused_cleanly(data: bytes) -> None:
    try:
        result = validate_image("noise", data, max_pixels=10**6)
    except AttachmentError as error:
        assert error.reason in Message
    else:
        assert decode_for_model(result.data).mode == "RGB"
