"""The real in-process engine on a test checkpoint, started and closed around a test."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bot.engine.transformers_engine import TransformersEngine


@contextmanager
def started_engine(checkpoint: Path, *, max_new_tokens: int = 24) -> Iterator[TransformersEngine]:
    """`checkpoint` loaded on the CPU through `from_pretrained`; fails if it did not load."""
    engine = TransformersEngine(str(checkpoint), device="cpu", max_new_tokens=max_new_tokens)
    asyncio.run(engine.start())
    assert engine.failure is None, engine.failure
    try:
        yield engine
    finally:
        asyncio.run(engine.close())
