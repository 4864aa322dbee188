"""Slack's message markup back into what the user saw: mrkdwn `text` and `rich_text` blocks.

Slack escapes `&`, `<` and `>` in a message's `text` and uses `<…>` for links,
mentions and dates (https://api.slack.com/reference/surfaces/formatting#escaping,
https://api.slack.com/reference/surfaces/formatting#retrieving-messages). The
`rich_text` blocks the composer sends carry the same message structurally, with
code and preformatted text marked as such and characters unescaped
(https://docs.slack.dev/reference/block-kit/blocks/rich-text-block). Both are
decoded here, before anything else reads the text, so the prompt's own guards
(the fence, special tokens as text) see what the user saw.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# `<…>` cannot contain a raw `<` or `>`: Slack escapes them inside labels too.
_TOKEN = re.compile(r"<([^<>]*)>")
_ENTITY = re.compile(r"&(amp|lt|gt);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">"}


@dataclass(frozen=True)
class Directory:
    """Names of the users, channels and user groups a message mentions, by id."""

    users: Mapping[str, str] = field(default_factory=dict)
    channels: Mapping[str, str] = field(default_factory=dict)
    groups: Mapping[str, str] = field(default_factory=dict)


def unescape(text: str) -> str:
    """`&amp;`, `&lt;` and `&gt;` back to characters, in one pass (`&amp;lt;` stays `&lt;`)."""
    return _ENTITY.sub(lambda m: _ENTITIES[m.group(1)], text)


def ids_in_text(text: str) -> tuple[set[str], set[str]]:
    """User and channel ids mentioned in mrkdwn `text` without a label."""
    users, channels = set(), set()
    for match in _TOKEN.finditer(text):
        target, _, label = match.group(1).partition("|")
        if target.startswith("@") and not label:
            users.add(target[1:])
        elif target.startswith("#") and not label:
            channels.add(target[1:])
    return users, channels


def decode_mrkdwn(text: str, names: Directory = Directory()) -> str:
    """A message's `text` as the user saw it.

    Example:
        >>> decode_mrkdwn('File "&lt;stdin&gt;", in &lt;module&gt; see <https://x.io/a|the docs>')
        'File "<stdin>", in <module> see the docs (https://x.io/a)'
    """
    out: list[str] = []
    position = 0
    for match in _TOKEN.finditer(text):
        out.append(unescape(text[position : match.start()]))
        out.append(_token(match.group(1), names))
        position = match.end()
    out.append(unescape(text[position:]))
    return "".join(out)


def _token(inner: str, names: Directory) -> str:
    target, bar, label = inner.partition("|")
    label = unescape(label)
    if target.startswith("@"):
        user = target[1:]
        return "@" + (label.lstrip("@") or names.users.get(user) or user)
    if target.startswith("#"):
        channel = target[1:]
        return "#" + (label or names.channels.get(channel) or channel)
    if target.startswith("!"):
        return _special(target[1:], label, names)
    url = unescape(target)
    if not bar or not label or label == url:
        return url.removeprefix("mailto:") if url.startswith("mailto:") else url
    if url.removeprefix("mailto:") == label:
        return label
    return f"{label} ({url})"


def _special(command: str, label: str, names: Directory) -> str:
    if command.startswith("subteam^"):
        group = command.removeprefix("subteam^")
        return "@" + (label.lstrip("@") or names.groups.get(group) or group)
    if command.startswith("date^"):
        # <!date^epoch^format|fallback>: the fallback is the date as readers saw it.
        return label or command.split("^")[1]
    if command in {"here", "channel", "everyone"}:
        return "@" + command
    return label or command


def rich_text_blocks(blocks: Iterable[Any]) -> list[Mapping[str, Any]]:
    """The `rich_text` blocks among a message's blocks."""
    return [b for b in blocks if isinstance(b, Mapping) and b.get("type") == "rich_text"]


def ids_in_blocks(blocks: Iterable[Any]) -> tuple[set[str], set[str], set[str]]:
    """User, channel and user-group ids the rich-text elements mention."""
    users: set[str] = set()
    channels: set[str] = set()
    groups: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            kind = node.get("type")
            if kind == "user" and node.get("user_id"):
                users.add(str(node["user_id"]))
            elif kind == "channel" and node.get("channel_id"):
                channels.add(str(node["channel_id"]))
            elif kind == "usergroup" and node.get("usergroup_id"):
                groups.add(str(node["usergroup_id"]))
            for child in node.get("elements") or ():
                walk(child)
        elif isinstance(node, list):
            for child in node:
                walk(child)

    walk(list(blocks))
    return users, channels, groups


def render_rich_text(
    blocks: Iterable[Any], names: Directory = Directory(), *, skip_user: str | None = None
) -> str:
    """Rich-text blocks as plain text with Markdown code: what the user wrote, line for line.

    Preformatted blocks become fenced code blocks with their line breaks; inline code
    keeps its backticks; quotes and lists keep their markers. `skip_user` (the bot
    itself) is left out where it is mentioned.
    """
    parts = [_container(element, names, skip_user) for b in blocks for element in _elements(b)]
    text = "".join(parts)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _elements(node: Any) -> list[Any]:
    elements = node.get("elements") if isinstance(node, Mapping) else None
    return list(elements) if isinstance(elements, list) else []


def _container(node: Any, names: Directory, skip_user: str | None) -> str:
    if not isinstance(node, Mapping):
        return ""
    kind = node.get("type")
    inline = "".join(_inline(child, names, skip_user) for child in _elements(node))
    if kind == "rich_text_preformatted":
        code = "".join(_inline(child, names, skip_user, code=True) for child in _elements(node))
        language = str(node.get("language") or "")
        return f"\n```{language if language != 'text' else ''}\n{code.strip(chr(10))}\n```\n"
    if kind == "rich_text_quote":
        return "\n" + "\n".join("> " + line for line in inline.split("\n")) + "\n"
    if kind == "rich_text_list":
        indent = "  " * int(node.get("indent") or 0)
        ordered = node.get("style") == "ordered"
        start = int(node.get("offset") or 0)
        items = [
            f"{indent}{f'{start + n}.' if ordered else '-'} "
            + "".join(_inline(c, names, skip_user) for c in _elements(item))
            for n, item in enumerate(_elements(node), start=1)
        ]
        return "\n".join(items) + "\n"
    return inline  # rich_text_section and anything new: its inline text


def _inline(node: Any, names: Directory, skip_user: str | None, *, code: bool = False) -> str:
    if not isinstance(node, Mapping):
        return ""
    kind = node.get("type")
    if kind == "text":
        text = str(node.get("text") or "")
        style = node.get("style") or {}
        if not code and isinstance(style, Mapping) and style.get("code") and text.strip():
            return f"`{text}`"
        return text
    if kind == "link":
        url = str(node.get("url") or "")
        label = str(node.get("text") or "")
        return f"{label} ({url})" if label and label != url else url
    if kind == "user":
        user = str(node.get("user_id") or "")
        return "" if user == skip_user else "@" + names.users.get(user, user)
    if kind == "channel":
        channel = str(node.get("channel_id") or "")
        return "#" + names.channels.get(channel, channel)
    if kind == "usergroup":
        group = str(node.get("usergroup_id") or "")
        return "@" + names.groups.get(group, group)
    if kind == "broadcast":
        return "@" + str(node.get("range") or "here")
    if kind == "emoji":
        return _emoji(node)
    if kind == "date":
        return str(node.get("fallback") or node.get("timestamp") or "")
    if kind in {"rich_text_section", "rich_text_preformatted", "rich_text_quote"}:
        return "".join(_inline(child, names, skip_user, code=code) for child in _elements(node))
    return str(node.get("text") or "")


def _emoji(node: Mapping[str, Any]) -> str:
    unicode = str(node.get("unicode") or "")
    if unicode:
        try:
            return "".join(chr(int(point, 16)) for point in unicode.split("-"))
        except (ValueError, OverflowError):
            pass
    return f":{node.get('name') or ''}:"
