"""Slack text, for every transport that posts to Slack: Markdown to mrkdwn, and `escape`, the
one way text we did not write is made safe to send."""

from __future__ import annotations

import re

_FENCE = re.compile(r"(```.*?(?:```|\Z))", re.DOTALL)
_INLINE_CODE = re.compile(r"(`[^`\n]+`)")
_BOLD = re.compile(r"\*\*(.+?)\*\*|__(.+?)__")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*$", re.MULTILINE)
_LINK = re.compile(r"\[([^\]\n]+)\]\((https?://[^)\s]+)\)")
_STRIKE = re.compile(r"~~(.+?)~~")
_BULLET = re.compile(r"^(\s*)[-*+]\s+", re.MULTILINE)


# Slack reads `&`, `<` and `>` as control characters in message text, mrkdwn and
# markdown alike: `<!channel>`, `<!here>`, `<!everyone>`, `<!subteam^ID>`, `<@U…>` and
# `<url|label>` are made of them, and entities are how text shows them without meaning
# them (https://api.slack.com/reference/surfaces/formatting#escaping).
_CONTROL = re.compile(r"(^[ \t]*)>|[&<>]", re.MULTILINE)
_ENTITIES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


def escape(text: str) -> str:
    r"""Make text we did not write safe to send to Slack: the one escaping function.

    Every `&` and `<` becomes an entity, and so does every `>` except one that starts a
    line (a quote marker; with no `<` left it cannot close anything). So no mention,
    mass mention, user group, channel or disguised link can be formed, whatever the
    text, and Slack shows the characters as typed.

    Example:
        >>> escape("ping <!channel> & <@U1>\n> quoted")
        'ping &lt;!channel&gt; &amp; &lt;@U1&gt;\n> quoted'
    """
    return _CONTROL.sub(
        lambda m: m.group(1) + ">" if m.group(1) is not None else _ENTITIES[m.group()], text
    )


def code_span_text(text: str) -> str:
    """`text` made to stay inside a one-line code span: a backtick would close the span
    (shown as a look-alike instead), a line break would end it (shown as a space).
    Escaping is still `escape`'s job, where the message is sent."""
    one_line = re.sub(r"[\r\n\u2028\u2029]+", " ", text)
    return one_line.replace("`", "\u02cb")


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
