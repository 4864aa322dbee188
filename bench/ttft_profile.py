"""Where the engine's cold time to first token goes, stage by stage, against the naive path.

Times (median of `--repeat` runs, one request at a time, after warm-up):

- `engine`: one-token request through `TransformersEngine.stream` (what the bench reports),
  split by the engine's own timings into `queued` (sent until it joins the batch:
  preprocessing, the batch window, thread hops) and `to first` (joined until its token);
- `naive`: processor + `generate(max_new_tokens=1)` + decode, on the caller's thread;
- `prepare`: the engine's preprocessing alone (image decode, processor, M-RoPE positions);
- `prefill`: the engine's prefill alone, on the caller's thread (model forward, slot copy,
  token choice), through a second `ModelRunner` on the same model;
- `naive processor` / `naive forward`: the naive path's two halves.

`engine - prepare - prefill` is what the scheduling costs (thread hops, the batch
window, waiting on the preprocessing pool). `--torch-profile` also prints the
operators of one engine request and one naive request by CPU time.

    PYTHONPATH=. python bench/ttft_profile.py            # tiny checkpoint on the CPU
    PYTHONPATH=. python bench/ttft_profile.py --window-ms 0
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from math import nan
from pathlib import Path
from typing import Any

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.engine_bench import QUESTIONS, _request, naive_one, screenshot
from bench.runner_beside import prepared_sequence, runner_beside
from bot.engine.images import decode_for_model
from bot.engine.transformers_engine import TransformersEngine
from tests.support.tiny_checkpoint import build_tiny_checkpoint


def _median_ms(run: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def _through_engine(engine: TransformersEngine, request: Any) -> None:
    async def one() -> None:
        async for _ in engine.stream(request):
            pass

    asyncio.run(one())


def _prefill_alone(engine: TransformersEngine, request: Any) -> Callable[[], None]:
    runner = runner_beside(engine)
    prompt = engine.prepare(request)

    def run() -> None:
        sequence = prepared_sequence(request, prompt)  # a one-token request
        sequence.start()
        with torch.inference_mode():
            logits = runner.prefill([sequence], None)
            runner.advance([sequence], logits)
        runner.release([sequence])

    return run


def _naive_halves(engine: TransformersEngine, request: Any) -> tuple[Callable[[], Any], Any]:
    model, processor = engine._model, engine._processor

    def inputs() -> Any:
        images = [decode_for_model(i.data) for i in request.images]
        return processor(text=[engine.render(request)], images=images, return_tensors="pt").to(
            model.device
        )

    return inputs, inputs()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--window-ms", type=float, default=5.0, help="BATCH_WINDOW_MS")
    parser.add_argument("--torch-profile", action="store_true")
    args = parser.parse_args()
    seen: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as workdir:
        checkpoint = build_tiny_checkpoint(Path(workdir) / "tiny", max_pixels=1280 * 1024)
        engine = TransformersEngine(
            str(checkpoint),
            device="cpu",
            batch_window_seconds=args.window_ms / 1000,
            observe=lambda name, value: seen.setdefault(name, []).append(value),
        )
        asyncio.run(engine.start())
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, window {args.window_ms} ms"
    )
    print(
        "| screenshot | engine | queued | to first | naive | prepare | prefill "
        "| naive processor | naive forward |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for index, size in enumerate([(1280, 800), (1920, 1080)]):
        request = _request(screenshot(size, index), QUESTIONS[0], 1)
        for _ in range(3):  # warm-up
            _through_engine(engine, request)
            naive_one(engine, request)
        inputs, ready = _naive_halves(engine, request)

        def forward(ready: Any = ready) -> None:
            with torch.inference_mode():
                engine._model.generate(**ready, max_new_tokens=1, do_sample=False)

        seen.clear()
        figures = [
            _median_ms(lambda r=request: _through_engine(engine, r), args.repeat),
            1000 * statistics.median(seen.get("supportbot_engine_queue_wait_seconds", [nan])),
            1000 * statistics.median(seen.get("supportbot_engine_ttft_seconds", [nan])),
            _median_ms(lambda r=request: naive_one(engine, r), args.repeat),
            # The whole preparation: through the engine, a screenshot it holds encoded
            # (this one, after the warm-up) would skip its image work.
            _median_ms(lambda r=request: engine._prepared().prepare(r), args.repeat),
            _median_ms(_prefill_alone(engine, request), args.repeat),
            _median_ms(inputs, args.repeat),
            _median_ms(forward, args.repeat),
        ]
        print(f"| {size[0]}x{size[1]} | " + " | ".join(f"{f:.1f}" for f in figures) + " |")
        if args.torch_profile:
            for name, run in (
                ("engine", lambda r=request: _through_engine(engine, r)),
                ("naive", lambda r=request: naive_one(engine, r)),
            ):
                with profile(activities=[ProfilerActivity.CPU]) as p:
                    run()
                print(f"\n{name}, {size[0]}x{size[1]}:")
                print(p.key_averages().table(sort_by="cpu_time_total", row_limit=15))
    asyncio.run(engine.close())
    return 0


if __name__ == "__main__":
    sys.exit(main())
