"""A started CPU engine on a checkpoint whose metrics and vision-encoder calls tests can read."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bot.engine.transformers_engine import TransformersEngine


async def start_observed_engine(
    checkpoint: Path, metrics: Iterable[str], **overrides: Any
) -> tuple[TransformersEngine, dict[str, list[float]], list[str]]:
    """The engine, the values each of `metrics` was observed with, and the name of the
    thread of each vision-encoder call, in order."""
    seen: dict[str, list[float]] = {name: [] for name in metrics}
    engine = TransformersEngine(
        str(checkpoint),
        device="cpu",
        observe=lambda name, value: seen[name].append(value) if name in seen else None,
        **overrides,
    )
    await engine.start()
    assert engine.failure is None, engine.failure
    encoder_threads: list[str] = []
    engine._model.model.visual.register_forward_hook(
        lambda *_: encoder_threads.append(threading.current_thread().name)
    )
    return engine, seen, encoder_threads
