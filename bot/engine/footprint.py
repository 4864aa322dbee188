"""How much memory a checkpoint's weights take, read from its files before loading it.

Like vLLM's start-up check ("model weights take X GiB"), but done before the
load so that a model that cannot fit says so in one line instead of failing
deep inside `from_pretrained`. Only weights are counted: the answer caches
need more on top (`PREFIX_CACHE_BYTES`, and the running batch's slots).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import try_to_load_from_cache

from bot.engine.load_failure import local_path, looks_like_a_path

_GIB = 2**30
_BYTES_PER_DTYPE = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8, "int8": 1}


@dataclass(frozen=True)
class Footprint:
    """Where the checkpoint is on disk and its weights' size once loaded as the chosen dtype."""

    directory: Path
    weights_bytes: int


def local_checkpoint(model: str) -> Path | None:
    """The checkpoint's directory here: `MODEL` itself, or its copy in the Hugging Face cache."""
    if looks_like_a_path(model):
        directory = local_path(model)
        return directory if (directory / "config.json").is_file() else None
    try:
        cached = try_to_load_from_cache(model, "config.json")
    except ValueError:  # not a valid repo id: nothing can be cached under it
        return None
    return Path(cached).parent if isinstance(cached, str) else None


def _stored_bytes_per_parameter(directory: Path) -> int | None:
    try:
        config = json.loads((directory / "config.json").read_text())
    except (OSError, ValueError):
        return None
    for section in (config, config.get("text_config") or {}):
        name = section.get("dtype") or section.get("torch_dtype")
        if isinstance(name, str) and name in _BYTES_PER_DTYPE:
            return _BYTES_PER_DTYPE[name]
    return None


def footprint(model: str, *, bytes_per_parameter: int) -> Footprint | None:
    """The weights' size in memory at `bytes_per_parameter`; None when the files are not here."""
    directory = local_checkpoint(model)
    if directory is None:
        return None
    files = list(directory.glob("*.safetensors")) or list(directory.glob("*.bin"))
    if not files:
        return None
    on_disk = sum(path.stat().st_size for path in files)
    stored = _stored_bytes_per_parameter(directory) or bytes_per_parameter
    return Footprint(directory, on_disk * bytes_per_parameter // stored)


def fit_problem(model: str, *, weights_bytes: int, device: str, free_bytes: int) -> str | None:
    """A line saying the weights do not fit in `free_bytes` on `device`; None when they do."""
    if weights_bytes <= free_bytes:
        return None
    return (
        f"MODEL={model} needs about {weights_bytes / _GIB:.1f} GiB for its weights but "
        f"{device} has {free_bytes / _GIB:.1f} GiB free; use a GPU with more memory, "
        "DTYPE=bfloat16 (half of float32), a smaller model, or ENGINE=remote"
    )
