"""Split a long reply into Slack-sized messages without losing or repeating text."""

from __future__ import annotations

# Slack truncates message text past 40,000 characters, and a section block holds
# 3,000; we stay under that so the last part can carry buttons, fences closed.
MESSAGE_LIMIT = 2_900
_FENCE = "```"


def split_message(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Cut `text` into pieces of at most `limit` characters.

    Cuts prefer a blank line, then a line end, then a space. A code block cut in
    two is closed at the end of one piece and reopened at the start of the next,
    so each piece renders on its own.

    Example:
        >>> split_message("a" * 20 + " " + "b" * 20, limit=30)
        ['aaaaaaaaaaaaaaaaaaaa', 'bbbbbbbbbbbbbbbbbbbb']
    """
    if limit < 2 * len(_FENCE) + 10:
        raise ValueError("limit too small to carry code fences")
    pieces: list[str] = []
    rest = text.strip()
    reopen = False
    while rest:
        prefix = _FENCE + "\n" if reopen else ""
        room = limit - len(prefix)
        if len(rest) <= room and not _opens_fence(prefix + rest):
            pieces.append(prefix + rest)
            break
        if len(rest) <= room:
            cut = len(rest)
        else:
            room -= len(_FENCE) + 1  # leave room to close a fence if this piece opens one
            cut = cut_point(rest, room)
        piece = prefix + rest[:cut].rstrip()
        rest = rest[cut:].lstrip("\n")
        if rest and not rest.strip():
            rest = ""
        reopen = _opens_fence(piece)
        if reopen:
            piece += "\n" + _FENCE
            if not rest:
                reopen = False
        pieces.append(piece)
    return [piece for piece in pieces if piece.strip()]


def _opens_fence(piece: str) -> bool:
    """True when `piece` ends inside a code block."""
    return piece.count(_FENCE) % 2 == 1


def cut_point(text: str, room: int) -> int:
    """Where to cut `text` to keep at most `room` characters: a blank line, a line end or
    a space in the second half of the room, else exactly at `room`."""
    window = text[:room]
    for separator in ("\n\n", "\n", " "):
        at = window.rfind(separator)
        if at > room // 2:
            return at + len(separator)
    return room
