"""Pick the device and dtype: CUDA + bfloat16 when a GPU is present, else CPU + float32."""

from __future__ import annotations

import torch

_DTYPES = {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}


def resolve_device(requested: str) -> str:
    """`auto` becomes `cuda` when CUDA is available, else `cpu`; anything else is kept."""
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return requested


def resolve_dtype(requested: str, device: str) -> torch.dtype:
    """`auto` becomes bfloat16 on CUDA and float32 on CPU, where bf16 matmuls are slow."""
    if requested == "auto":
        return torch.bfloat16 if device.startswith("cuda") else torch.float32
    try:
        return _DTYPES[requested]
    except KeyError:
        raise ValueError(f"unknown dtype {requested!r}; use one of {sorted(_DTYPES)}") from None


def gpu_memory_bytes() -> float:
    """Bytes of GPU memory PyTorch has allocated on the current device (0 without CUDA)."""
    return float(torch.cuda.memory_allocated()) if torch.cuda.is_available() else 0.0
