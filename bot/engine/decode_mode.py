"""How the in-process engine runs its decode steps (a setting, so no torch here)."""

from __future__ import annotations

from enum import StrEnum


class DecodeMode(StrEnum):
    AUTO = "auto"  # CUDA graphs on a GPU, eager elsewhere
    EAGER = "eager"
    COMPILE = "compile"  # torch.compile without graphs (any device)
    CUDA_GRAPHS = "cuda-graphs"  # torch.compile with CUDA graphs (GPU only)

    def on(self, device_type: str) -> DecodeMode:
        """This mode for a device of `device_type`, with `auto` decided."""
        if self is DecodeMode.AUTO:
            return DecodeMode.CUDA_GRAPHS if device_type == "cuda" else DecodeMode.EAGER
        if self is DecodeMode.CUDA_GRAPHS and device_type != "cuda":
            raise ValueError("DECODE_MODE=cuda-graphs needs a CUDA device")
        return self
