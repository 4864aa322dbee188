"""Everything a test's Redis namespace holds, as bytes: to prove what is (not) kept."""

from __future__ import annotations

from typing import Any

from redis import Redis


def _as_bytes(value: Any) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def stored_bytes(redis_url: str, prefix: str) -> bytes:
    """Every value under `prefix:` (strings, lists, hashes, sets, sorted sets, streams), joined."""
    client = Redis.from_url(redis_url)
    kept: list[bytes] = []
    try:
        for key in client.scan_iter(f"{prefix}:*"):
            kind = client.type(key)
            if kind == b"string":
                kept.append(_as_bytes(client.get(key) or b""))
            elif kind == b"list":
                kept.extend(_as_bytes(v) for v in client.lrange(key, 0, -1))
            elif kind == b"hash":
                kept.extend(_as_bytes(v) for v in client.hvals(key))
            elif kind == b"set":
                kept.extend(_as_bytes(v) for v in client.smembers(key))
            elif kind == b"zset":
                kept.extend(_as_bytes(v) for v in client.zrange(key, 0, -1))
            elif kind == b"stream":
                for _, fields in client.xrange(key) or []:
                    kept.extend(_as_bytes(v) for v in (fields or {}).values())
    finally:
        client.close()
    return b"\n".join(kept)
