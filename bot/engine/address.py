"""A model server's address as the bot shows it: in logs, `/readyz`, the doctor, errors.

Apart from `remote.py` so that showing it imports no HTTP client (the command line
says what it does before anything slow is imported), and the settings can use it.
"""

from __future__ import annotations


def without_userinfo(url: str) -> str:
    """`url` with any `user:password@` removed; never raises, whatever `url` holds.

    Split as `urllib.parse.urlsplit` splits (the netloc ends at the first `/`, `?` or
    `#`, its userinfo at the netloc's last `@`), but by hand: urlsplit raises on a port
    that is no number or a broken IPv6 literal, which a setting may well hold.

    Example:
        >>> without_userinfo("http://ops:s3cret@vllm:8000/x")
        'http://vllm:8000/x'
    """
    scheme, separator, rest = url.partition("://")
    if not separator:  # "user:pass@host/...": no scheme, the netloc first
        scheme, rest = "", url
    ends = [at for at in (rest.find(mark) for mark in "/?#") if at >= 0]
    end = min(ends, default=len(rest))
    netloc, tail = rest[:end], rest[end:]
    if "@" not in netloc:
        return url
    return f"{scheme}{separator}{netloc.rpartition('@')[2]}{tail}"
