"""Thread history stores: in memory without Redis, or a capped list per thread in Redis.

Redis keeps each thread as a capped list with a TTL; the image bytes live once
per content hash beside it, so a follow-up can show the model the same image.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import deque
from dataclasses import dataclass, field

from redis.asyncio import Redis

from bot.conversation.turns import (
    AttachmentKind,
    AttachmentNote,
    HistoryEntry,
    Screenshot,
    Speaker,
    ThreadKey,
)
from bot.stores import keys


@dataclass
class _MemoryThread:
    entries: deque[HistoryEntry]
    expires_at: float = field(default=0.0)


class InMemoryHistoryStore:
    """History in this process's memory: lost on restart, not shared between replicas."""

    def __init__(self, *, max_turns: int = 40, ttl_seconds: int = 7 * 24 * 3600) -> None:
        self._max_turns = max_turns
        self._ttl_seconds = ttl_seconds
        self._threads: dict[ThreadKey, _MemoryThread] = {}

    async def append(self, thread: ThreadKey, entry: HistoryEntry) -> None:
        self._drop_expired()
        stored = self._threads.setdefault(thread, _MemoryThread(deque(maxlen=self._max_turns)))
        stored.entries.append(entry)
        stored.expires_at = time.monotonic() + self._ttl_seconds

    async def load(self, thread: ThreadKey) -> list[HistoryEntry]:
        self._drop_expired()
        stored = self._threads.get(thread)
        return list(stored.entries) if stored else []

    async def has_thread(self, thread: ThreadKey) -> bool:
        self._drop_expired()
        return thread in self._threads

    def _drop_expired(self) -> None:
        now = time.monotonic()
        for key in [key for key, stored in self._threads.items() if stored.expires_at < now]:
            del self._threads[key]


class RedisHistoryStore:
    """History in Redis: survives restarts and is shared by every replica.

    Args:
        redis: a client made with `decode_responses=False` (images are bytes).
        prefix: namespace of every key this store writes.
        max_turns: the list is trimmed to its newest entries past this length.
        ttl_seconds: a thread (and its images) expires this long after its last entry.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "supportbot",
        max_turns: int = 40,
        ttl_seconds: int = 7 * 24 * 3600,
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._max_turns = max_turns
        self._ttl_seconds = ttl_seconds

    def _thread_key(self, thread: ThreadKey) -> str:
        return keys.HISTORY.key(self._prefix, thread=thread.as_key())

    def _image_key(self, digest: str) -> str:
        return keys.IMAGE.key(self._prefix, digest=digest)

    async def append(self, thread: ThreadKey, entry: HistoryEntry) -> None:
        key = self._thread_key(thread)
        screenshots = []
        async with self._redis.pipeline(transaction=True) as pipe:
            for shot in entry.screenshots:
                digest = hashlib.sha256(shot.data).hexdigest()
                pipe.set(self._image_key(digest), shot.data, ex=self._ttl_seconds)
                screenshots.append(
                    {
                        "filename": shot.filename,
                        "media_type": shot.media_type,
                        "sha256": digest,
                        "width": shot.width,
                        "height": shot.height,
                    }
                )
            record = {
                "speaker": entry.speaker.value,
                "text": entry.text,
                "screenshots": screenshots,
            }
            if entry.attachments:  # already redacted by the diagnosis
                record["attachments"] = [
                    {"filename": a.filename, "kind": a.kind.value, "note": a.note, "text": a.text}
                    for a in entry.attachments
                ]
            pipe.rpush(key, json.dumps(record, ensure_ascii=False))
            pipe.ltrim(key, -self._max_turns, -1)
            pipe.expire(key, self._ttl_seconds)
            await pipe.execute()

    async def load(self, thread: ThreadKey) -> list[HistoryEntry]:
        raw_records = await self._redis.lrange(self._thread_key(thread), 0, -1)
        records = [json.loads(raw) for raw in raw_records]
        digests = sorted({shot["sha256"] for record in records for shot in record["screenshots"]})
        blobs = await self._redis.mget([self._image_key(d) for d in digests]) if digests else []
        images: dict[str, bytes] = {
            digest: blob
            for digest, blob in zip(digests, blobs, strict=True)
            if isinstance(blob, bytes)
        }
        return [
            HistoryEntry(
                speaker=Speaker(record["speaker"]),
                text=record["text"],
                screenshots=tuple(
                    Screenshot(
                        shot["filename"],
                        shot["media_type"],
                        images[shot["sha256"]],
                        shot["width"],
                        shot["height"],
                    )
                    for shot in record["screenshots"]
                    if shot["sha256"] in images
                ),
                attachments=tuple(
                    AttachmentNote(
                        a["filename"],
                        AttachmentKind(a["kind"]),
                        a.get("note", ""),
                        a.get("text", ""),
                    )
                    for a in record.get("attachments", ())
                ),
            )
            for record in records
        ]

    async def has_thread(self, thread: ThreadKey) -> bool:
        return bool(await self._redis.exists(self._thread_key(thread)))
