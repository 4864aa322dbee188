"""Where a follow-up's first token goes: the engine's own split, then its prefill's operators.

For any started engine (the benchmark's full-size architecture on a GPU, the
tiny checkpoint on the CPU), a thread's first question and then a one-token
follow-up:

1. through the engine, the follow-up's wall time split by the engine's own
   timings into *queued* (sent until it joins the batch: preparation, encoding
   ahead, hand-offs) and *to first* (joined until its first token: the prefix
   taken, the new tokens prefilled, the token chosen), with the prompt tokens
   its thread's prefix held and those left to compute;
2. the same follow-up's prefill alone, on this thread, through a second
   `ModelRunner` on the same model (its own prefix store, eager decode), under
   `torch.profiler`: wall time, the device's busy time, and the operators by
   self time on the device (CUDA) or on the CPU.

`bench/engine_bench.py --profile-follow-up` prints it after its tables (the
GPU check passes it); on its own, on the tiny checkpoint:

    PYTHONPATH=. python bench/follow_up_profile.py
"""

from __future__ import annotations

import asyncio
import dataclasses
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.runner_beside import prepared_sequence, runner_beside
from bot.engine import ChatMessage, GenerationRequest, ImagePart, Role, TextPart
from bot.engine.prefix_cache import CachedPrefix, PrefixStore
from bot.engine.transformers_engine import TransformersEngine

QUEUED = "supportbot_engine_queue_wait_seconds"
REPEATS = 5


def conversation(screenshot: bytes, thread: str) -> tuple[GenerationRequest, GenerationRequest]:
    """A thread's first question about `screenshot` (8 tokens), and its one-token follow-up."""
    system = ChatMessage(Role.SYSTEM, (TextPart("You diagnose software errors."),))
    asked = ChatMessage(Role.USER, (ImagePart(screenshot), TextPart("What does this mean?")))
    first = GenerationRequest(
        messages=(system, asked), max_new_tokens=8, min_new_tokens=8, reuse_key=thread
    )
    follow_up = dataclasses.replace(
        first,
        messages=(
            system,
            asked,
            ChatMessage(Role.ASSISTANT, (TextPart("It means a module is missing."),)),
            ChatMessage(Role.USER, (TextPart("Still failing after pip install."),)),
        ),
        max_new_tokens=1,
        min_new_tokens=1,
    )
    return first, follow_up


async def through_engine(
    engine: TransformersEngine,
    conversations: list[tuple[GenerationRequest, GenerationRequest]],
    observed: dict[str, list[float]],
) -> list[str]:
    """Rows of the follow-ups' split through the engine (medians over the conversations)."""
    walls, queued, reused = [], [], []
    for first, follow_up in conversations:
        async for _ in engine.stream(first):
            pass
        before, hits = engine.prefixes.reused_tokens, engine.prefixes.hits
        waits = len(observed.setdefault(QUEUED, []))
        started = time.perf_counter()
        async for _ in engine.stream(follow_up):
            pass
        walls.append(time.perf_counter() - started)
        (wait,) = observed[QUEUED][waits:]
        queued.append(wait)
        reused.append(engine.prefixes.reused_tokens - before if engine.prefixes.hits > hits else 0)
    joined = [wall - wait for wall, wait in zip(walls, queued, strict=True)]
    prompt = len(engine.prepare(conversations[-1][1]))
    return [
        "| follow-up through the engine (one-token answer) | median ms |",
        "| --- | --- |",
        f"| sent to its answer | {_ms(walls)} |",
        f"| queued: sent to joined (preparation, encoding ahead, hand-offs) | {_ms(queued)} |",
        f"| joined to its answer (prefix taken, new tokens prefilled, token chosen) "
        f"| {_ms(joined)} |",
        f"| prompt tokens held by the thread's prefix, of all | "
        f"{statistics.median(reused):.0f} of {prompt} |",
    ]


def prefill_alone(
    engine: TransformersEngine, first: GenerationRequest, follow_up: GenerationRequest
) -> list[str]:
    """Rows of the follow-up's prefill on this thread from its thread's prefix, and a table
    of its operators by self time (the last of `REPEATS` runs, after one to warm up)."""
    prefixes = PrefixStore(2**40)
    runner = runner_beside(engine, prefixes)
    key = first.reuse_key or "profiled-thread"
    with torch.inference_mode():
        asked = prepared_sequence(first, engine.prepare(first))
        asked.start()
        runner.advance([asked], runner.prefill([asked], None))
        prefix = CachedPrefix(
            tuple(asked.tokens[: asked.cached]),
            asked.prompt.image_digests,
            runner.kv_pool.row(asked.slot),
        )
        runner.release([asked])
    prompt = engine.prepare(follow_up)
    reused: list[int] = []  # tokens each run took from the thread's prefix

    def once() -> None:
        prefixes.keep(key, prefix)
        sequence = prepared_sequence(dataclasses.replace(follow_up, reuse_key=key), prompt)
        sequence.start()
        with torch.inference_mode():
            hit = runner.prefix_for(sequence)
            runner.advance([sequence], runner.prefill([sequence], hit))
        runner.release([sequence])
        reused.append(hit.length if hit is not None else 0)

    walls = [_timed(once) for _ in range(REPEATS + 1)][1:]
    on_gpu = torch.cuda.is_available()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if on_gpu else [])
    with profile(activities=activities) as profiled:
        _timed(once)
    events = profiled.key_averages()
    where = "device" if on_gpu else "cpu"
    busy = sum(getattr(event, f"self_{where}_time_total", 0.0) for event in events) / 1000
    return [
        "| follow-up prefill alone, this thread | ms |",
        "| --- | --- |",
        f"| wall, median of {REPEATS} | {_ms(walls)} |",
        f"| {'device' if on_gpu else 'CPU'} busy (profiler, one run) | {busy:.1f} |",
        f"| new prompt tokens prefilled | {len(prompt) - reused[-1]} |",
        "",
        events.table(sort_by=f"self_{where}_time_total", row_limit=15),
    ]


def _ms(seconds: list[float]) -> str:
    return f"{1000 * statistics.median(seconds):.1f}" if seconds else "n/a"


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _timed(run: Callable[[], object]) -> float:
    _sync()
    started = time.perf_counter()
    run()
    _sync()
    return time.perf_counter() - started


async def main() -> int:
    from bench.engine_bench import fresh_screenshot
    from tests.support.tiny_checkpoint import build_tiny_checkpoint

    observed: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as workdir:
        checkpoint = build_tiny_checkpoint(Path(workdir) / "tiny", max_pixels=1280 * 1024)
        engine = TransformersEngine(
            str(checkpoint),
            device="cpu",
            observe=lambda name, value: observed.setdefault(name, []).append(value),
        )
        await engine.start()
    print(f"torch {torch.__version__}, tiny checkpoint on the CPU, 1280x800 screenshots")
    for line in await report(engine, lambda: fresh_screenshot((1280, 800)), observed):
        print(line)
    await engine.close()
    return 0


async def report(
    engine: TransformersEngine,
    screenshot: Callable[[], bytes],
    observed: dict[str, list[float]],
) -> list[str]:
    """Both parts, each conversation on a screenshot of its own (`screenshot()`)."""
    talks = [conversation(screenshot(), f"profiled-{index}") for index in range(REPEATS + 1)]
    rows = await through_engine(engine, talks, observed)
    first, follow_up = conversation(screenshot(), "profiled-alone")
    return [*rows, "", *prefill_alone(engine, first, follow_up)]


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
