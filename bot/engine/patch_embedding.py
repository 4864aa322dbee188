"""The vision encoder's patch embedding as one matrix product over its Conv3d's own weight.

Qwen-VL's patch embedding is a Conv3d whose stride is its kernel: each
output sees one patch and nothing else, so it is the flattened patches
times the weight read as [out, in x t x h x w]. Run as a convolution it goes
through im2col or cuDNN's 3-D kernels, which are slow on some GPUs and
dtypes (huggingface/transformers#45750). Transformers' fusion mapping
(https://huggingface.co/docs/transformers/main/fusion_mapping) makes the
same change at load, but in 5.17 it stays registered for every later load
in the process, and a second fused load fails; so the engine does it here.
The module keeps its Conv3d and its weight (nothing copied or renamed, a
merged LoRA adapter already in it); only its forward reads the weight as a
matrix. On the test checkpoint, on this project's 2-core CPU box, a
1920x1080 screenshot's patch embedding took 5.9 ms instead of 8.6 on two
threads (9.6-10.3 instead of 14.3-15.0 on one); the whole encoder about as
long as before, its attention being most of it (docs/benchmarks.md).
"""

from __future__ import annotations

import functools
import logging
from typing import Any

import torch
from torch import nn
from torch.nn import functional

log = logging.getLogger(__name__)


def embed_patches_as_linear(visual: Any) -> bool:
    """Run `visual.patch_embed` as a matrix product when it is a non-overlapping Conv3d;
    whether it does (another layout is left as it is, and the log says why)."""
    patch_embed = getattr(visual, "patch_embed", None)
    proj = getattr(patch_embed, "proj", None)
    if not isinstance(proj, nn.Conv3d) or not _one_patch_per_output(proj):
        log.info("the vision patch embedding runs as loaded: not a non-overlapping Conv3d")
        return False
    patch_embed.forward = functools.partial(_as_linear, proj)  # type: ignore[union-attr]
    return True


def _one_patch_per_output(conv: nn.Conv3d) -> bool:
    return (
        conv.stride == conv.kernel_size
        and conv.padding == (0, 0, 0)
        and conv.dilation == (1, 1, 1)
        and conv.groups == 1
        and conv.padding_mode == "zeros"
    )


def _as_linear(conv: nn.Conv3d, hidden_states: torch.Tensor) -> torch.Tensor:
    """`conv` over patches flattened as the processor lays them out (channel, time, row,
    column), the order of the weight's own dimensions after the output one."""
    weight = conv.weight.reshape(conv.out_channels, -1)  # a view: loaded weights are contiguous
    patches = hidden_states.reshape(-1, weight.shape[1]).to(weight.dtype)
    return functional.linear(patches, weight, conv.bias)
