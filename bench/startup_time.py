"""Seconds from weights loaded to engine ready, for one DECODE_MODE, in this process.

The bound: <= 60 s on a fresh machine, <= 20 s on a restart. On a
GPU it builds the full-size Qwen3-VL-8B architecture with random bf16 weights
(as `engine_bench.py` does; building is not counted); `--smoke` uses the tiny
checkpoint on the CPU. Run it twice against one `TORCHINDUCTOR_CACHE_DIR` to
see a restart (only `compile` keeps anything between processes).

    PYTHONPATH=. python bench/startup_time.py --mode cuda-graphs
    PYTHONPATH=. python bench/startup_time.py --smoke --mode eager

Prints one line: `startup <mode> <seconds> <decode mode it ended in>`.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.engine_bench import full_size_model
from bot.engine.decode_mode import DecodeMode
from bot.engine.transformers_engine import TransformersEngine
from tests.support.tiny_checkpoint import build_tiny_checkpoint


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", required=True, choices=[mode.value for mode in DecodeMode])
    parser.add_argument("--smoke", action="store_true", help="tiny checkpoint on the CPU")
    parser.add_argument("--max-batch", type=int, default=32)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    from transformers import AutoModelForImageTextToText, AutoProcessor

    with tempfile.TemporaryDirectory() as workdir:
        checkpoint = build_tiny_checkpoint(Path(workdir) / "tiny", max_pixels=1280 * 1024)
        processor = AutoProcessor.from_pretrained(checkpoint)
        if args.smoke:
            model = AutoModelForImageTextToText.from_pretrained(checkpoint).eval()
            device = "cpu"
        else:
            model, device = full_size_model(processor), "cuda"
            torch.cuda.synchronize()
    started = time.monotonic()
    engine = TransformersEngine.from_loaded(
        model, processor, device=device, decode_mode=args.mode, max_batch=args.max_batch
    )
    seconds = time.monotonic() - started
    print(f"startup {args.mode} {seconds:.1f} {engine.decode_mode}", flush=True)
    asyncio.run(engine.close())
    return 0


if __name__ == "__main__":
    sys.exit(main())
