"""Operators per decode step at batch 1 on the full 36-layer Qwen3-VL-8B text layout.

The count of operators (kernel launches on a GPU) does not depend on the
hidden or MLP widths, so the model here keeps the 8B's layer count and head
layout (36 layers, 32 query heads, 8 key/value heads of 128) with narrow
hidden (256) and MLP (512) widths, random weights, so it fits any CPU. A
`TorchDispatchMode` counts every ATen operator one eager decode step runs
through the engine's own `Decoder` and key/value pool; views (which launch
nothing) are counted apart.

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
        returns = func._schema.returns
        aliasing = returns and returns[0].alias_info is not None
        view = aliasing and not returns[0].alias_info.is_write  # in-place ops write; views do not
        (self.views if view else self.ops)[str(func.overloadpacket.__name__)] += 1
        return func(*args, **(kwargs or {}))


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


def main() -> int:
    net = model()
    layers = LAYOUT["num_hidden_layers"]
    decoder = Decoder(net, DecodeMode.EAGER)
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
    print(f"torch {torch.__version__}; 36-layer Qwen3-VL-8B text layout, batch 1, eager step")
    print(
        f"operators (not views): {sum(counter.ops.values())}; views: {sum(counter.views.values())}"
    )
    for name, count in counter.ops.most_common(15):
        print(f"  {name:32s} {count}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
