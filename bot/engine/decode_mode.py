"""How the in-process engine runs its decode steps (a setting, so no torch here)."""

from __future__ import annotations

from enum import StrEnum


class DecodeMode(StrEnum):
    AUTO = "auto"  # the fastest mode that has met the start-up bounds on this device; else eager
    EAGER = "eager"
    COMPILE = "compile"  # torch.compile of the step (any device; opt-in, start-up bounded)
    CUDA_GRAPHS = "cuda-graphs"  # the eager step captured per batch bucket (GPU only)

    def on(self, device_type: str) -> DecodeMode:
        """This mode for a device of `device_type`, with `auto` decided."""
        if self is DecodeMode.AUTO:
            return AUTO_ON.get(device_type, DecodeMode.EAGER)
        if self is DecodeMode.CUDA_GRAPHS and device_type != "cuda":
            raise ValueError("DECODE_MODE=cuda-graphs needs a CUDA device")
        return self


# What `auto` picks per device type: only a mode that has met the start-up
# bounds (weights loaded to ready: <= 60 s on a fresh machine, <= 20 s on a
# restart) in a measured run recorded in docs/benchmarks.md. None has yet:
# torch.compile with CUDA graphs was still compiling the 8B model after 200 s,
# and the captured step has not yet run on a GPU. bench/gpu_check.sh measures it.
AUTO_ON: dict[str, DecodeMode] = {}
