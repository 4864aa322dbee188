"""Whether this CPU does bfloat16 arithmetic natively, and the embedding dtype that follows.

An embedding model in bfloat16 indexes about three times as fast as in float32 where the
CPU has bf16 instructions (AVX512-BF16, AMX), and much slower where torch must emulate
them; so `auto` asks the CPU.
"""

from __future__ import annotations

import torch

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def native_bf16() -> bool:
    """True when the CPU multiplies bfloat16 in hardware (AVX512-BF16 or AMX tiles)."""
    # torch.ops.mkldnn._is_mkldnn_bf16_supported() is no test: it is also true on plain
    # AVX-512, where oneDNN emulates bf16. ARM's bf16 is not measured here; it stays float32.
    return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()


def embedding_dtype(requested: str) -> torch.dtype:
    """`auto` becomes bfloat16 where `native_bf16()`, else float32; `float32` and
    `bfloat16` are kept."""
    if requested == "auto":
        return torch.bfloat16 if native_bf16() else torch.float32
    try:
        return _DTYPES[requested]
    except KeyError:
        raise ValueError(
            f"unknown embedding dtype {requested!r}; use auto, float32 or bfloat16"
        ) from None
