"""Convert the model's Markdown to Slack mrkdwn, leaving code untouched."""

from __future__ import annotations

import re

_FENCE = re.compile(r"(```.*?(?:```|\Z))", re.DOTALL)
_INLINE_CODE = re.compile(r"(`[^`\n]+`)")
_BOLD = re.compile(r"\*\*(.+?)\*\*|__(.+?)__")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*$", re.MULTILINE)
_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")
_STRIKE = re.compile(r"~~(.+?)~~")
_BULLET = re.compile(r"^(\s*)[-*+]\s+", re.MULTILINE)


def escape(text: str) -> str:
    """Escape the three characters Slack treats as control characters."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _convert_prose(text: str) -> str:
    text = escape(text)
    text = _LINK.sub(lambda m: f"<{m.group(2)}|{m.group(1)}>", text)
    text = _HEADING.sub(lambda m: f"*{m.group(1)}*", text)
    text = _BOLD.sub(lambda m: f"*{m.group(1) or m.group(2)}*", text)
    text = _STRIKE.sub(r"~\1~", text)
    return _BULLET.sub(r"\1• ", text)


def _convert_outside_inline_code(text: str) -> str:
    parts = _INLINE_CODE.split(text)
    return "".join(escape(part) if i % 2 else _convert_prose(part) for i, part in enumerate(parts))


def markdown_to_mrkdwn(text: str) -> str:
    """Markdown (as models write it) to Slack mrkdwn.

    Example:
        >>> markdown_to_mrkdwn("**Fix:** run `pip install x`")
        '*Fix:* run `pip install x`'
    """
    pieces = _FENCE.split(text)
    out = []
    for i, piece in enumerate(pieces):
        if i % 2:  # a fenced block: drop the language tag, which Slack would show as text
            body = re.sub(r"^```[\w+-]*\n", "```\n", piece)
            out.append(escape(body))
        else:
            out.append(_convert_outside_inline_code(piece))
    return "".join(out)
