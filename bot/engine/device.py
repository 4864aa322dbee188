"""Pick the device and dtype: CUDA + bfloat16 when a GPU is present, else CPU + float32."""

from __future__ import annotations

import os
from pathlib import Path

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


def device_problem(device: str) -> str | None:
    """Why `device` (already resolved from `auto`) cannot be used here; None when it can."""
    if not device.startswith("cuda"):
        return None
    if not torch.cuda.is_available():
        built = f"built for CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
        return (
            f"DEVICE={device} but no CUDA device is visible (torch {torch.__version__}, {built}); "
            "set DEVICE=cpu, or run where a GPU and its driver are present"
        )
    index = int(device.partition(":")[2] or 0)
    if index >= torch.cuda.device_count():
        return (
            f"DEVICE={device} but only {torch.cuda.device_count()} CUDA device(s) are visible; "
            "use cuda:0 … or DEVICE=auto"
        )
    return None


def free_memory_bytes(device: str) -> int:
    """Memory free for weights on `device`: the GPU's free memory, or the host's available RAM."""
    if device.startswith("cuda"):
        index = int(device.partition(":")[2] or 0)
        free, _total = torch.cuda.mem_get_info(index)
        return int(free)
    return _host_available_bytes()


def _host_available_bytes() -> int:
    # MemAvailable counts the page cache the kernel would give back; "free" pages do not,
    # and would call a machine full that has room.
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


def dtype_bytes(dtype: torch.dtype) -> int:
    """Bytes per parameter of `dtype`."""
    return int(torch.empty((), dtype=dtype).element_size())
