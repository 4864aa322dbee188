"""URLs as the bot may print them: without the user information (`user:password@`).

Connection URLs carry credentials (`redis://:pw@cache:6379/0`,
`http://svc:pw@engine:8000`). Whatever the bot prints about them, on `/readyz`, in
`doctor`, in a settings error or a log line, goes through this module, so the
password is never shown, whichever surface shows it.
"""

from __future__ import annotations

import re

# After `//`, everything up to the last `@` of the authority (a parser takes the last
# one: `http://a@b@host/` has the user information `a@b`). The authority ends at
# whitespace, `/`, `?`, `#` or a backslash, so each `//` costs the length of its
# authority at most: linear in the text.
_USERINFO = re.compile(r"(?<=//)[^\s/?#\\@]*+(?:@[^\s/?#\\@]*+)*@")


def printable_url(url: str) -> str:
    """One URL (a setting's value) without its user information; never raises.

    Split as `urllib.parse.urlsplit` splits (the authority ends at the first `/`, `?`
    or `#`, its user information at the authority's last `@`), but by hand: urlsplit
    raises on a port that is no number or a broken IPv6 literal, which a setting may
    well hold. A value without a scheme (`ops:pw@vllm:8000`) starts with its authority.

    Example:
        >>> printable_url("redis://:S3cret@cache:6379/0")
        'redis://cache:6379/0'
    """
    scheme, separator, rest = url.partition("://")
    if not separator:
        scheme, rest = "", url
    ends = [at for at in (rest.find(mark) for mark in "/?#") if at >= 0]
    end = min(ends, default=len(rest))
    authority, tail = rest[:end], rest[end:]
    if "@" not in authority:
        return url
    return f"{scheme}{separator}{authority.rpartition('@')[2]}{tail}"


def without_userinfo(text: str) -> str:
    """`text` with the user information removed from every URL in it.

    Example:
        >>> without_userinfo("remote engine at http://svc:pw@engine:8000 unreachable")
        'remote engine at http://engine:8000 unreachable'
    """
    return _USERINFO.sub("", text) if "@" in text else text
