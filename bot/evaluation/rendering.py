"""Draw a case's screen text the way users' screenshots look: terminals, IDEs, browsers, dialogs.

Deterministic: the only randomness (photo angle, crop line, noise) comes from a
generator seeded with the case id, so the same fonts and Pillow give the same bytes.
Only the generator (`python -m bot.evaluation.generate`) calls this; the bot and
its tests read the committed files and need no fonts.
"""

from __future__ import annotations

import hashlib
import io
import random
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from bot.evaluation.cases import EvalCase, Rendering


class FontMissing(RuntimeError):
    """A font the generator draws with is not installed."""


@dataclass(frozen=True)
class FontFile:
    path: str
    index: int = 0
    package: str = ""  # the Debian package that installs it


# Latin fonts, and the CJK font used instead when the text holds Han characters.
FONTS: dict[str, tuple[FontFile, FontFile]] = {
    "mono": (
        FontFile("/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf", 0, "fonts-dejavu-core"),
        FontFile("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 1, "fonts-wqy-microhei"),
    ),
    "mono2": (
        FontFile(
            "/usr/share/fonts/truetype/liberation2/LiberationMono-Regular.ttf",
            0,
            "fonts-liberation2",
        ),
        FontFile("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 1, "fonts-wqy-zenhei"),
    ),
    "sans": (
        FontFile("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", 0, "fonts-dejavu-core"),
        FontFile("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0, "fonts-wqy-microhei"),
    ),
    "sans2": (
        FontFile(
            "/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf",
            0,
            "fonts-liberation2",
        ),
        FontFile("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0, "fonts-wqy-zenhei"),
    ),
    "serif": (
        FontFile(
            "/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf",
            0,
            "fonts-liberation2",
        ),
        FontFile("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0, "fonts-wqy-zenhei"),
    ),
}
_CHROME_FONT = "sans"


@dataclass(frozen=True)
class Palette:
    background: tuple[int, int, int]
    text: tuple[int, int, int]
    error: tuple[int, int, int]
    chrome: tuple[int, int, int]
    chrome_text: tuple[int, int, int]
    muted: tuple[int, int, int]


STYLES: dict[str, Palette] = {
    "terminal-dark": Palette(
        (30, 30, 30), (221, 221, 221), (241, 96, 96), (58, 58, 58), (200, 200, 200), (130, 130, 130)
    ),
    "terminal-light": Palette(
        (253, 253, 250), (40, 40, 40), (196, 26, 22), (226, 226, 226), (60, 60, 60), (140, 140, 140)
    ),
    "ide-dark": Palette(
        (30, 30, 30),
        (212, 212, 212),
        (244, 135, 113),
        (37, 37, 38),
        (204, 204, 204),
        (110, 118, 129),
    ),
    "ide-light": Palette(
        (255, 255, 255), (36, 41, 47), (205, 49, 49), (243, 243, 243), (51, 51, 51), (140, 140, 140)
    ),
    "browser": Palette(
        (255, 255, 255), (33, 33, 33), (180, 30, 30), (222, 225, 230), (60, 64, 67), (95, 99, 104)
    ),
    "console": Palette(
        (255, 255, 255), (32, 33, 36), (200, 20, 20), (241, 243, 244), (60, 64, 67), (128, 134, 139)
    ),
    "console-dark": Palette(
        (36, 36, 36),
        (227, 227, 227),
        (255, 128, 128),
        (51, 51, 51),
        (200, 200, 200),
        (150, 150, 150),
    ),
    "dialog": Palette(
        (240, 240, 240), (20, 20, 20), (190, 30, 30), (255, 255, 255), (30, 30, 30), (110, 110, 110)
    ),
    "dialog-dark": Palette(
        (44, 44, 46),
        (235, 235, 235),
        (255, 105, 97),
        (58, 58, 60),
        (235, 235, 235),
        (150, 150, 150),
    ),
}

_HAN = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
_ERROR_WORDS = re.compile(
    r"error|exception|fatal|panic|failed|denied|refused|blocked|错误|异常|失败|拒绝|ERR!|\bE\d{4}\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Rendered:
    """The encoded screenshot and what legibility needs to know about it."""

    data: bytes
    extension: str
    width: int
    height: int
    smallest_line_px: float


def font_for(key: str, size: int, *, cjk: bool) -> ImageFont.FreeTypeFont:
    if key not in FONTS:
        raise ValueError(f"unknown font {key!r}; one of {sorted(FONTS)}")
    chosen = FONTS[key][1 if cjk else 0]
    if not Path(chosen.path).is_file():
        raise FontMissing(f"{chosen.path} is missing: install the Debian package {chosen.package}")
    return ImageFont.truetype(chosen.path, size, index=chosen.index)


def fonts_used() -> dict[str, str]:
    """Each font key and file the generator may draw with, for the manifest."""
    used: dict[str, str] = {}
    for key, (latin, cjk) in FONTS.items():
        used[key] = f"{latin.path}#{latin.index} ({latin.package})"
        used[f"{key}+cjk"] = f"{cjk.path}#{cjk.index} ({cjk.package})"
    return used


def line_height(font: ImageFont.FreeTypeFont) -> int:
    """Pixels from the top of a capital to the bottom of a descender: how tall a text line is."""
    _, top, _, bottom = font.getbbox("EHgjy")
    return int(bottom - top)


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: int, *, at_words: bool) -> list[str]:
    lines: list[str] = []
    for raw in text.split("\n"):
        line = raw.expandtabs(4)
        while font.getlength(line) > width:
            cut = len(line)
            while cut > 1 and font.getlength(line[:cut]) > width:
                cut -= 1
            space = line.rfind(" ", 0, cut)
            # Break at a word when there is one near the edge; CJK text breaks anywhere.
            if at_words and space > cut * 0.6:
                cut = space + 1
            lines.append(line[:cut].rstrip())
            line = line[cut:]
        lines.append(line)
    return lines


class _Canvas:
    """Lays out the chrome and the body text of one style at one scale."""

    def __init__(self, case: EvalCase) -> None:
        self.r: Rendering = case.rendering
        self.cjk = bool(_HAN.search(self.r.text + self.r.title))
        self.s = self.r.scale
        self.palette = STYLES[self.r.style]
        self.body = font_for(self.r.font, self.r.size * self.s, cjk=self.cjk)
        self.chrome = font_for(_CHROME_FONT, max(11, self.r.size - 2) * self.s, cjk=self.cjk)
        self.heading = font_for(self.r.font, int(self.r.size * 1.7) * self.s, cjk=self.cjk)

    def px(self, value: float) -> int:
        return int(value * self.s)

    def body_lines(self, width: int, *, at_words: bool) -> list[str]:
        return _wrap(self.r.text, self.body, width, at_words=at_words)

    def advance(self) -> int:
        return int(line_height(self.body) * 1.45)

    def draw_lines(
        self, draw: ImageDraw.ImageDraw, lines: list[str], x: int, y: int, *, gutter: bool = False
    ) -> int:
        p = self.palette
        for number, line in enumerate(lines, start=1):
            if gutter:
                draw.text((x - self.px(44), y), f"{number:>3}", font=self.body, fill=p.muted)
            colour = p.error if _ERROR_WORDS.search(line) else p.text
            draw.text((x, y), line, font=self.body, fill=colour)
            y += self.advance()
        return y


def _terminal(c: _Canvas) -> Image.Image:
    p = c.palette
    lines = c.body_lines(c.px(1100), at_words=False)
    width = max(c.px(760), max(int(c.body.getlength(line)) for line in lines) + c.px(40))
    bar = c.px(30)
    height = bar + c.px(16) + len(lines) * c.advance() + c.advance() + c.px(24)
    image = Image.new("RGB", (width, height), p.background)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, bar), fill=p.chrome)
    for i, colour in enumerate(((255, 95, 86), (255, 189, 46), (39, 201, 63))):
        cx = c.px(16 + 20 * i)
        draw.ellipse(
            (cx - c.px(6), bar // 2 - c.px(6), cx + c.px(6), bar // 2 + c.px(6)), fill=colour
        )
    draw.text(
        (width // 2, bar // 2), c.r.title or "bash", font=c.chrome, fill=p.chrome_text, anchor="mm"
    )
    y = c.draw_lines(draw, lines, c.px(14), bar + c.px(12))
    draw.text((c.px(14), y), "$ ", font=c.body, fill=p.text)
    draw.rectangle(
        (
            c.px(14) + int(c.body.getlength("$ ")),
            y,
            c.px(14) + int(c.body.getlength("$ ")) + c.px(8),
            y + line_height(c.body),
        ),
        fill=p.text,
    )
    return image


def _ide(c: _Canvas) -> Image.Image:
    p = c.palette
    lines = c.body_lines(c.px(1000), at_words=False)
    side = c.px(180)
    gutter = c.px(56)
    width = max(
        c.px(900), side + gutter + max(int(c.body.getlength(line)) for line in lines) + c.px(30)
    )
    tabs = c.px(34)
    panel_title = c.px(28)
    height = tabs + panel_title + c.px(14) + len(lines) * c.advance() + c.px(30)
    image = Image.new("RGB", (width, height), p.background)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, side, height), fill=p.chrome)
    for i, name in enumerate(("src", "tests", "README.md", "pyproject.toml", "Dockerfile")):
        draw.text((c.px(14), tabs + c.px(10) + i * c.px(24)), name, font=c.chrome, fill=p.muted)
    draw.rectangle((side, 0, width, tabs), fill=p.chrome)
    draw.text(
        (side + c.px(14), tabs // 2),
        c.r.title or "TERMINAL",
        font=c.chrome,
        fill=p.chrome_text,
        anchor="lm",
    )
    draw.line(
        (side, tabs + panel_title, width, tabs + panel_title), fill=p.muted, width=max(1, c.s)
    )
    for i, name in enumerate(("PROBLEMS", "OUTPUT", "DEBUG CONSOLE", "TERMINAL")):
        draw.text(
            (side + c.px(14 + 120 * i), tabs + panel_title // 2),
            name,
            font=c.chrome,
            fill=p.chrome_text if i == 3 else p.muted,
            anchor="lm",
        )
    c.draw_lines(draw, lines, side + gutter, tabs + panel_title + c.px(12), gutter=True)
    return image


def _browser(c: _Canvas) -> Image.Image:
    p = c.palette
    first, _, rest = c.r.text.partition("\n")
    heading_lines = _wrap(first, c.heading, c.px(860), at_words=True)
    lines = _wrap(rest.strip("\n"), c.body, c.px(860), at_words=True)
    width = c.px(1000)
    bar = c.px(74)
    heading_advance = int(line_height(c.heading) * 1.4)
    height = (
        bar + c.px(60) + len(heading_lines) * heading_advance + len(lines) * c.advance() + c.px(80)
    )
    image = Image.new("RGB", (width, height), p.background)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width, bar), fill=p.chrome)
    draw.rounded_rectangle(
        (c.px(12), c.px(6), c.px(260), c.px(34)), radius=c.px(8), fill=p.background
    )
    draw.text(
        (c.px(24), c.px(20)),
        (c.r.title or "Error")[:28],
        font=c.chrome,
        fill=p.chrome_text,
        anchor="lm",
    )
    draw.rounded_rectangle(
        (c.px(90), c.px(40), width - c.px(20), c.px(68)), radius=c.px(14), fill=p.background
    )
    draw.text(
        (c.px(110), c.px(54)),
        c.r.title or "https://example.com/",
        font=c.chrome,
        fill=p.muted,
        anchor="lm",
    )
    y = bar + c.px(40)
    for line in heading_lines:
        draw.text((c.px(70), y), line, font=c.heading, fill=p.text)
        y += heading_advance
    y += c.px(10)
    c.draw_lines(draw, lines, c.px(70), y)
    return image


def _console(c: _Canvas) -> Image.Image:
    p = c.palette
    lines = c.body_lines(c.px(1040), at_words=False)
    width = c.px(1100)
    page = c.px(160)
    tabs = c.px(30)
    height = page + tabs + len(lines) * c.advance() + c.px(40)
    image = Image.new("RGB", (width, height), p.background)
    draw = ImageDraw.Draw(image)
    draw.rectangle(
        (0, 0, width, page), fill=(248, 249, 250) if p.background[0] > 128 else (60, 60, 60)
    )
    draw.text((c.px(30), c.px(40)), c.r.title or "app.example.com", font=c.heading, fill=p.muted)
    draw.rectangle((0, page, width, page + tabs), fill=p.chrome)
    for i, name in enumerate(("Elements", "Console", "Sources", "Network")):
        draw.text(
            (c.px(20 + 100 * i), page + tabs // 2),
            name,
            font=c.chrome,
            fill=p.chrome_text if i == 1 else p.muted,
            anchor="lm",
        )
    y = page + tabs + c.px(8)
    pink = (253, 236, 236) if p.background[0] > 128 else (78, 36, 36)
    for line in lines:
        if _ERROR_WORDS.search(line):
            draw.rectangle((0, y - c.px(3), width, y + c.advance() - c.px(3)), fill=pink)
            draw.ellipse((c.px(8), y + c.px(2), c.px(18), y + c.px(12)), fill=p.error)
        draw.text(
            (c.px(26), y), line, font=c.body, fill=p.error if _ERROR_WORDS.search(line) else p.text
        )
        y += c.advance()
    return image


def _dialog(c: _Canvas) -> Image.Image:
    p = c.palette
    lines = c.body_lines(c.px(440), at_words=True)
    box_w = c.px(560)
    title_h = c.px(32)
    box_h = title_h + c.px(36) + len(lines) * c.advance() + c.px(70)
    width, height = box_w + c.px(160), box_h + c.px(120)
    backdrop = (70, 90, 120) if p.background[0] > 128 else (20, 24, 30)
    image = Image.new("RGB", (width, height), backdrop)
    draw = ImageDraw.Draw(image)
    x0, y0 = c.px(80), c.px(60)
    draw.rectangle(
        (x0 + c.px(4), y0 + c.px(6), x0 + box_w + c.px(4), y0 + box_h + c.px(6)), fill=(0, 0, 0)
    )
    draw.rectangle((x0, y0, x0 + box_w, y0 + box_h), fill=p.background)
    draw.rectangle((x0, y0, x0 + box_w, y0 + title_h), fill=p.chrome)
    draw.text(
        (x0 + c.px(12), y0 + title_h // 2),
        c.r.title or "Error",
        font=c.chrome,
        fill=p.chrome_text,
        anchor="lm",
    )
    draw.text(
        (x0 + box_w - c.px(20), y0 + title_h // 2),
        "\u00d7",
        font=c.chrome,
        fill=p.chrome_text,
        anchor="mm",
    )
    icon = (x0 + c.px(22), y0 + title_h + c.px(24), x0 + c.px(62), y0 + title_h + c.px(64))
    draw.ellipse(icon, fill=p.error)
    draw.text(
        ((icon[0] + icon[2]) // 2, (icon[1] + icon[3]) // 2),
        "!",
        font=c.heading,
        fill=(255, 255, 255),
        anchor="mm",
    )
    y = y0 + title_h + c.px(24)
    for line in lines:
        draw.text((x0 + c.px(84), y), line, font=c.body, fill=p.text)
        y += c.advance()
    button = (
        x0 + box_w - c.px(110),
        y0 + box_h - c.px(46),
        x0 + box_w - c.px(20),
        y0 + box_h - c.px(16),
    )
    draw.rounded_rectangle(button, radius=c.px(4), fill=(0, 120, 215))
    draw.text(
        ((button[0] + button[2]) // 2, (button[1] + button[3]) // 2),
        "OK",
        font=c.chrome,
        fill=(255, 255, 255),
        anchor="mm",
    )
    return image


_LAYOUTS = {
    "terminal-dark": _terminal,
    "terminal-light": _terminal,
    "ide-dark": _ide,
    "ide-light": _ide,
    "browser": _browser,
    "console": _console,
    "console-dark": _console,
    "dialog": _dialog,
    "dialog-dark": _dialog,
}


def _seeded(case_id: str) -> random.Random:
    return random.Random(int.from_bytes(hashlib.sha256(case_id.encode()).digest()[:8], "big"))


def _perspective_coefficients(
    source: list[tuple[float, float]], target: list[tuple[float, float]]
) -> list[float]:
    """Pillow's PERSPECTIVE data mapping output points `target` back to input points `source`."""
    rows = []
    for (x, y), (u, v) in zip(target, source, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    solution = np.linalg.solve(
        np.array(rows, dtype=float), np.array(source, dtype=float).reshape(8)
    )
    return [float(value) for value in solution]


def _phone_photo(image: Image.Image, rng: random.Random) -> tuple[Image.Image, float]:
    """The screen photographed at an angle: bezel, perspective, blur, uneven light, noise."""
    w, h = image.size
    bezel = max(8, w // 40)
    screen = Image.new("RGB", (w + 2 * bezel, h + 2 * bezel), (12, 12, 14))
    screen.paste(image, (bezel, bezel))
    sw, sh = screen.size
    out_w, out_h = int(sw * 1.12), int(sh * 1.16)
    jitter = [rng.uniform(0.0, 0.07) for _ in range(8)]
    target = [
        (out_w * (0.03 + jitter[0]), out_h * (0.04 + jitter[1])),
        (out_w * (0.97 - jitter[2]), out_h * (0.02 + jitter[3] / 2)),
        (out_w * (0.98 - jitter[4] / 2), out_h * (0.97 - jitter[5] / 2)),
        (out_w * (0.02 + jitter[6]), out_h * (0.95 - jitter[7])),
    ]
    source = [(0.0, 0.0), (float(sw), 0.0), (float(sw), float(sh)), (0.0, float(sh))]
    desk = Image.new(
        "RGB", (out_w, out_h), (rng.randint(60, 90), rng.randint(55, 80), rng.randint(45, 70))
    )
    warped = screen.transform(
        (out_w, out_h),
        Image.Transform.PERSPECTIVE,
        _perspective_coefficients(source, target),
        Image.Resampling.BICUBIC,
        fillcolor=(0, 0, 0),
    )
    mask = Image.new("L", (out_w, out_h), 0)
    ImageDraw.Draw(mask).polygon(target, fill=255)
    desk.paste(warped, (0, 0), mask)
    photo = desk.filter(ImageFilter.GaussianBlur(radius=rng.uniform(0.8, 1.4)))
    pixels = np.asarray(photo).astype(np.float32)
    ramp = np.linspace(rng.uniform(0.75, 0.9), rng.uniform(1.0, 1.1), out_w, dtype=np.float32)
    noise = np.random.default_rng(rng.randint(0, 2**31)).normal(0.0, 6.0, pixels.shape)
    pixels = np.clip(pixels * ramp[None, :, None] + noise, 0, 255).astype(np.uint8)
    left = target[3][1] - target[0][1]
    right = target[2][1] - target[1][1]
    # The screen's shortest vertical edge over its height: how much text shrank, at worst.
    shrink = min(left, right) / sh
    return Image.fromarray(pixels), shrink


def _on_desktop(window: Image.Image, size: str, scale: int, rng: random.Random) -> Image.Image:
    """A whole-screen capture: the window somewhere on a large, mostly empty desktop."""
    width, height = (int(side) for side in size.split("x"))
    width, height = width * scale, height * scale
    top, bottom = (rng.randint(20, 80), rng.randint(90, 160), rng.randint(120, 190)), (18, 24, 38)
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    pixels = np.array(top, np.float32) * (1 - ramp) + np.array(bottom, np.float32) * ramp
    desktop = Image.fromarray(np.broadcast_to(pixels, (height, width, 3)).astype(np.uint8))
    draw = ImageDraw.Draw(desktop)
    draw.rectangle((0, height - 48 * scale, width, height), fill=(32, 32, 36))
    x = rng.randint(0, max(0, width - window.width))
    y = rng.randint(0, max(0, height - 48 * scale - window.height))
    desktop.paste(window.crop((0, 0, min(window.width, width), min(window.height, height))), (x, y))
    return desktop


def render_case(case: EvalCase) -> Rendered:
    """The screenshot of `case`, encoded, with the height of its smallest body text line."""
    r = case.rendering
    if r.style not in _LAYOUTS:
        raise ValueError(f"{case.id}: unknown style {r.style!r}; one of {sorted(_LAYOUTS)}")
    canvas = _Canvas(case)
    image = _LAYOUTS[r.style](canvas)
    smallest = float(line_height(canvas.body))
    rng = _seeded(case.id)
    quality = 0
    for effect in r.effects:
        name, _, value = effect.partition(":")
        if name == "crop":
            # A hasty selection: the top cuts through a text line, the right edge cuts lines short.
            w, h = image.size
            top = int(h * rng.uniform(0.08, 0.14))
            right = int(w * rng.uniform(0.78, 0.9))
            image = image.crop((0, top, right, h))
        elif name == "photo":
            image, shrink = _phone_photo(image, rng)
            smallest *= shrink
            quality = quality or 72
        elif name == "jpeg":
            quality = int(value or 60)
        elif name == "desktop":
            image = _on_desktop(image, value or "2560x1440", r.scale, rng)
        elif name == "half":
            image = image.resize((image.width // 2, image.height // 2), Image.Resampling.LANCZOS)
            smallest /= 2
        else:
            raise ValueError(f"{case.id}: unknown effect {effect!r}")
    buffer = io.BytesIO()
    if quality:
        image.save(buffer, "JPEG", quality=quality, optimize=True)
        extension = "jpg"
    else:
        image = image.quantize(
            colors=128, method=Image.Quantize.MAXCOVERAGE, dither=Image.Dither.NONE
        )
        image.save(buffer, "PNG", optimize=True)
        extension = "png"
    return Rendered(buffer.getvalue(), extension, image.width, image.height, round(smallest, 2))
