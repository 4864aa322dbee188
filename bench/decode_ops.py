"""Operators per decode step at batch 1 on the full 36-layer Qwen3-VL-8B text layout.

The count of operators (kernel launches on a GPU) does not depend on the
hidden or MLP widths, so the model here keeps the 8B's layer count and head
layout (36 layers, 32 query heads, 8 key/value heads of 128) with narrow
hidden (256) and MLP (512) widths, random weights, so it fits any CPU. A
`TorchDispatchMode` counts every ATen operator one eager decode step runs
through the engine's own `Decoder` and key/value pool; views (which launch
nothing) are counted apart. The step is counted twice: over fused weights
(`bot/engine/fusion.py`, what the engine runs) and through the model's own
forward (`Decoder(fused=False)`, the step before fusion), built from the same
seed.

Under `inference_mode` an operator is counted as called: `rms_norm`, `linear`
and `scaled_dot_product_attention` are one each, as they are one kernel on
CUDA (`_fused_rms_norm`, a GEMM, a fused attention kernel); the CPU runs
`rms_norm` as its five-operator composite.

    PYTHONPATH=. python bench/decode_ops.py
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.engine.decode_mode import DecodeMode
from bot.engine.decoder import Decoder
from bot.engine.slot_cache import SlotCache

LAYOUT = {
    "num_hidden_layers": 36,
    "num_attention_heads": 32,
    "num_key_value_heads": 8,
    "head_dim": 128,
    "hidden_size": 256,
    "intermediate_size": 512,
    "vocab_size": 1024,
}


class OpCounter(TorchDispatchMode):  # type: ignore[no-untyped-call]
    """Counts ATen operators, views apart from the rest."""

    def __init__(self) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.ops: Counter[str] = Counter()
        self.views: Counter[str] = Counter()

    def __torch_dispatch__(
        self, func: Any, types: Any, args: Any = (), kwargs: dict[str, Any] | None = None
    ) -> Any:
        result = func(*args, **(kwargs or {}))
        returns = func._schema.returns
        aliasing = returns and returns[0].alias_info is not None
        view = aliasing and not returns[0].alias_info.is_write  # in-place ops write; views do not
        # `to` and `reshape` may alias their input, or copy (a dtype cast, a non-viewable
        # shape): a copy launches a kernel, so only a result sharing an input's memory is a view.
        view = view and _shares_memory(result, args)
        (self.views if view else self.ops)[str(func.overloadpacket.__name__)] += 1
        return result


def _shares_memory(result: Any, args: Any) -> bool:
    if not isinstance(result, torch.Tensor):
        return True
    storage = result.untyped_storage().data_ptr()
    inputs = [arg for arg in args if isinstance(arg, torch.Tensor)]
    return any(arg.untyped_storage().data_ptr() == storage for arg in inputs)


def model() -> Any:
    from transformers import AutoModelForImageTextToText, Qwen3VLConfig

    config = Qwen3VLConfig(
        text_config={
            **LAYOUT,
            "max_position_embeddings": 4096,
            "rope_parameters": {
                "rope_type": "default",
                "rope_theta": 5_000_000.0,
                "mrope_section": [24, 20, 20],
                "mrope_interleaved": True,
            },
        },
        vision_config={
            "depth": 1,
            "hidden_size": 32,
            "intermediate_size": 64,
            "num_heads": 2,
            "out_hidden_size": 256,
            "deepstack_visual_indexes": [0],
        },
    )
    torch.manual_seed(0)
    return AutoModelForImageTextToText.from_config(
        config, dtype=torch.bfloat16, attn_implementation="sdpa"
    ).eval()


def count(*, fused: bool) -> OpCounter:
    """Operators of the third eager decode step at batch 1 (the first ones warm caches up)."""
    net = model()
    layers = LAYOUT["num_hidden_layers"]
    decoder = Decoder(net, DecodeMode.EAGER, fused=fused)
    assert decoder.fused is fused
    cache = SlotCache(layers)
    with torch.inference_mode():
        cache.reserve(decoder.kv_zeros(1, 1), 1, 1024)
        rows = decoder.kv_zeros(1, 100)
        cache.add([(rows, rows)] * layers, [100])
        for index in range(3):  # the last step is counted; the first ones warm caches up
            shape = cache.begin_step({0: (5, 100 + index, 100 + index)}, pad_token=0)
            counter = OpCounter()
            with counter:
                decoder.step(cache, shape)
            cache.end_step()
    return counter


def main() -> int:
    print(f"torch {torch.__version__}; 36-layer Qwen3-VL-8B text layout, batch 1, eager step")
    for fused, title in ((False, "the model's own forward"), (True, "fused weights")):
        counter = count(fused=fused)
        ops, views = sum(counter.ops.values()), sum(counter.views.values())
        print(f"{title}: operators (not views): {ops}; views: {views}")
        for name, number in counter.ops.most_common(15):
            print(f"  {name:32s} {number}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
