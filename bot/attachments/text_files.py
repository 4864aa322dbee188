"""Read text attachments (logs, snippets, configs, source): detect, decode, and cut to a budget.

Text is recognised by its content, never by the file name or the declared type:
a byte-order mark, then UTF-8, UTF-16 (by its NUL pattern) and GB 18030, and
the decoded text must look like text (almost no control characters). Terminal
colour codes are removed. A file too long for its budget keeps what a support
engineer would look at: its first lines, the lines around the first error and
the end, with a note of what was left out.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from dataclasses import dataclass

# Files that are certainly not text even when their first bytes happen to decode.
_BINARY_MAGIC = (
    b"%PDF-",
    b"PK\x03\x04",
    b"\x1f\x8b",
    b"7z\xbc\xaf\x27\x1c",
    b"\x7fELF",
    b"Rar!",
    b"\x00asm",
    b"\xca\xfe\xba\xbe",
    b"SQLite format 3",
    b"\xd0\xcf\x11\xe0",  # MS Office (OLE)
)
_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Terminal escape sequences (colours, cursor moves, window titles) as CI logs carry them.
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
_ALLOWED_CONTROLS = frozenset("\t\n\r\f\v")
_SAMPLE = 64 * 1024

# The first line a reader would jump to: an exception, a traceback, an error level.
FIRST_ERROR = re.compile(
    r"Traceback \(most recent call last\)|\w*(?:Error|Exception)\b|"
    r"\b(?:ERROR|FATAL|CRITICAL|PANIC|FAILED|FAILURE)\b|\bpanic:|\bfatal:|错误|异常|失败"
)


def decode_text(data: bytes) -> tuple[str, str] | None:
    """`(text, encoding)` when `data` is text in a supported encoding, else None.

    Example:
        >>> decode_text("错误: 连接失败".encode("gb18030"))
        ('错误: 连接失败', 'gb18030')
    """
    for bom, codec in _BOMS:
        if data.startswith(bom):
            return _checked(data, codec)
    if data.startswith(_BINARY_MAGIC):
        return None
    sample = data[:_SAMPLE]
    if b"\x00" in sample:
        return _utf16_without_bom(data)
    return _checked(data, "utf-8") or _checked(data, "gb18030")


def _utf16_without_bom(data: bytes) -> tuple[str, str] | None:
    # Mostly-ASCII UTF-16 has a NUL in every other byte: odd positions for little-endian.
    sample = data[: _SAMPLE - _SAMPLE % 2]
    even, odd = sample[0::2].count(0), sample[1::2].count(0)
    half = max(1, len(sample) // 2)
    if odd > half * 0.3 and even == 0:
        return _checked(data, "utf-16-le")
    if even > half * 0.3 and odd == 0:
        return _checked(data, "utf-16-be")
    return None


def _checked(data: bytes, codec: str) -> tuple[str, str] | None:
    try:
        text = data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None
    text = _ANSI.sub("", text)
    sample = text[:_SAMPLE]
    controls = sum(1 for ch in sample if ch < " " and ch not in _ALLOWED_CONTROLS)
    if "\x00" in sample or controls > len(sample) * 0.01:
        return None
    name = {"utf-8-sig": "utf-8", "utf-16-le": "utf-16", "utf-16-be": "utf-16"}.get(codec, codec)
    return text.replace("\r\n", "\n").replace("\r", "\n"), name


@dataclass(frozen=True)
class Excerpt:
    """What the model reads of a text file, and what was cut (empty when nothing was)."""

    text: str
    cut: str = ""
    lines: int = 0  # lines in the whole file


def excerpt(text: str, *, max_chars: int) -> Excerpt:
    """`text` cut to about `max_chars`, keeping its start, its first error and its end.

    Example:
        >>> log = "\\n".join(f"step {n}" for n in range(1000))
        >>> excerpt(log, max_chars=200).cut
        'kept lines 1-2 and 981-1,000 (the end) of 1,000'
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    longest = max(120, max_chars // 4)
    lines, shortened = _shorten_lines(lines, longest)
    total = len(lines)
    if sum(len(line) + 1 for line in lines) <= max_chars:
        cut = f"{shortened:,} over-long line(s) shortened in the middle" if shortened else ""
        return Excerpt("\n".join(lines), cut, total)

    keep: set[int] = set()
    budget = max_chars
    head = _take(lines, range(min(3, total)), budget // 10, keep)
    budget -= head
    error = next((n for n, line in enumerate(lines) if FIRST_ERROR.search(line)), None)
    if error is not None and error >= 3:
        around = range(max(0, error - 5), min(total, error + 20))
        budget -= _take(lines, around, int(max_chars * 0.35), keep)
    _take(lines, range(total - 1, -1, -1), budget, keep)

    kept = sorted(keep)
    out: list[str] = []
    previous = -1
    for index in kept:
        if index != previous + 1:
            out.append(f"[… lines {previous + 2:,}-{index:,} left out …]")
        out.append(lines[index])
        previous = index
    if previous != total - 1:
        out.append(f"[… lines {previous + 2:,}-{total:,} left out …]")
    return Excerpt("\n".join(out), _describe(kept, total, error, shortened), total)


def _shorten_lines(lines: list[str], longest: int) -> tuple[list[str], int]:
    shortened = 0
    out = []
    for line in lines:
        if len(line) > longest:
            half = longest // 2
            left_out = len(line) - 2 * half
            line = f"{line[:half]} [… {left_out:,} characters left out …] {line[-half:]}"
            shortened += 1
        out.append(line)
    return out, shortened


def _take(lines: list[str], order: range, budget: int, keep: set[int]) -> int:
    """Add lines in `order` to `keep` while they fit in `budget`; the characters used."""
    used = 0
    for index in order:
        if index in keep:
            continue
        cost = len(lines[index]) + 1
        if used + cost > budget:
            break
        keep.add(index)
        used += cost
    return used


def _describe(kept: list[int], total: int, error: int | None, shortened: int) -> str:
    runs: list[tuple[int, int]] = []
    for index in kept:
        if runs and index == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], index)
        else:
            runs.append((index, index))
    parts = []
    for start, end in runs:
        label = f"{start + 1:,}-{end + 1:,}" if end > start else f"{start + 1:,}"
        if error is not None and start <= error <= end and start > 0:
            label += f" (around the first error, line {error + 1:,})"
        elif end == total - 1:
            label += " (the end)"
        parts.append(label)
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    note = f"kept lines {listed} of {total:,}"
    if shortened:
        note += f"; {shortened:,} over-long line(s) shortened in the middle"
    return note


def fit_tokens(
    text: str, *, max_tokens: int, count: Callable[[str], int], chars_per_token: float = 4.0
) -> Excerpt:
    """An excerpt of `text` that `count` measures at no more than `max_tokens` tokens.

    Starts from a character estimate and tightens it with the real count, so CJK
    text (about one character a token) and code (about four) both land in budget.
    """
    max_chars = max(200, int(max_tokens * chars_per_token))
    for _ in range(6):
        cut = excerpt(text, max_chars=max_chars)
        tokens = count(cut.text)
        if tokens <= max_tokens or max_chars <= 200:
            return cut
        max_chars = max(200, int(max_chars * max_tokens / tokens * 0.9))
    return excerpt(text, max_chars=200)
