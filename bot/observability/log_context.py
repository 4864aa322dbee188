"""Fields that follow one piece of work through the logs (request id, workspace, thread)."""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

# An immutable default: each context gets a new dict, never a shared one to mutate.
_fields: contextvars.ContextVar[tuple[tuple[str, str], ...]] = contextvars.ContextVar(
    "log_fields", default=()
)


@contextmanager
def log_context(**fields: str) -> Iterator[str]:
    """Attach `fields` (and a new `request_id` unless given) to every log line inside.

    Example:
        >>> with log_context(workspace="T1", channel="C1") as request_id:
        ...     log.info("answering")   # carries request_id, workspace and channel
    """
    merged = {**dict(_fields.get()), **fields}
    merged.setdefault("request_id", uuid.uuid4().hex[:12])
    token = _fields.set(tuple(merged.items()))
    try:
        yield merged["request_id"]
    finally:
        _fields.reset(token)


def current_fields() -> dict[str, str]:
    return dict(_fields.get())
