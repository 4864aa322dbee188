"""Engine vs the naive path (one `generate()` per request, one after another), same run.

On a GPU it builds the full-size Qwen3-VL-8B architecture from its public config
with random bf16 weights (no download) and feeds rendered error screenshots
(1280x800 and 1920x1080) with short questions, output length fixed with
`min_new_tokens` so random weights do not stop early:

    PYTHONPATH=. python bench/engine_bench.py

Without a GPU, `--smoke` runs the same measurements on the tiny test checkpoint
(its numbers mean nothing; it proves the script works):

    python bench/engine_bench.py --smoke

`--decode-mode eager` measures the engine without compiled decode steps.

The engine keeps recent screenshots' vision encodings by content
(`ENCODER_CACHE_BYTES`), the naive path has no such cache. So every figure
is taken with screenshots new to the engine (`fresh_screenshot`), except the
concurrency rows marked "2 shared", where all requests share two screenshots
(as when one screenshot is asked about again) and the cache shows.

`--rounds N` runs each concurrency level N times, with new screenshots each
round and the two paths taking turns to go first; its tok/s is the median of
the rounds, their range beside it (one round of a few requests is noisy).
The engine's row also gives engine ÷ naive within each round (the same
screenshots, measured back to back): the median of those paired ratios and
their range, steadier than the ratio of two medians when the box's speed
drifts from round to round.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import io
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
import transformers
from PIL import Image, ImageDraw
from transformers.generation.streamers import BaseStreamer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import itertools

from bench import follow_up_profile
from bench.stats import percentile
from bot.engine import ChatMessage, GenerationRequest, ImagePart, Role, TextPart
from bot.engine.config import ENCODER_WORKERS
from bot.engine.decode_mode import DecodeMode
from bot.engine.images import decode_for_model
from bot.engine.transformers_engine import TransformersEngine

QUESTIONS = ["What does this error mean?", "How do I fix this?", "Why does the build fail?"]


def screenshot(size: tuple[int, int], seed: int) -> bytes:
    image = Image.new("RGB", size, (30, 30, 30))
    draw = ImageDraw.Draw(image)
    for row in range(size[1] // 20):
        line = f"Traceback line {row} seed {seed} ModuleNotFoundError"
        draw.text((10, 10 + 20 * row), line, fill=(220, 220, 220))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


_SEEDS = itertools.count(1000)


def fresh_screenshot(size: tuple[int, int]) -> bytes:
    """A screenshot of `size` no earlier request of this run has sent."""
    return screenshot(size, next(_SEEDS))


def full_size_model(processor: Any) -> Any:
    """Qwen3-VL-8B's architecture from its public config values, random bf16 weights, on CUDA."""
    from transformers import Qwen3VLConfig, Qwen3VLForConditionalGeneration

    tokenizer = processor.tokenizer
    config = Qwen3VLConfig(
        text_config={
            "vocab_size": 151936,
            "hidden_size": 4096,
            "intermediate_size": 12288,
            "num_hidden_layers": 36,
            "num_attention_heads": 32,
            "num_key_value_heads": 8,
            "head_dim": 128,
            "max_position_embeddings": 262144,
            "rope_parameters": {
                "rope_type": "default",
                "rope_theta": 5_000_000.0,
                "mrope_section": [24, 20, 20],
                "mrope_interleaved": True,
            },
        },
        vision_config={
            "depth": 27,
            "hidden_size": 1152,
            "intermediate_size": 4304,
            "num_heads": 16,
            "patch_size": 16,
            "temporal_patch_size": 2,
            "spatial_merge_size": 2,
            "out_hidden_size": 4096,
            "num_position_embeddings": 2304,
            "deepstack_visual_indexes": [8, 16, 24],
        },
        image_token_id=tokenizer.convert_tokens_to_ids("<|image_pad|>"),
        video_token_id=tokenizer.convert_tokens_to_ids("<|video_pad|>"),
        vision_start_token_id=tokenizer.convert_tokens_to_ids("<|vision_start|>"),
        vision_end_token_id=tokenizer.convert_tokens_to_ids("<|vision_end|>"),
        tie_word_embeddings=False,
    )
    config.text_config._attn_implementation = "sdpa"
    config.vision_config._attn_implementation = "sdpa"
    with torch.device("cuda"):
        model = Qwen3VLForConditionalGeneration(config).to(torch.bfloat16)
    return model.eval()


@dataclass
class Result:
    tokens: int
    seconds: float
    latencies: list[float]


def _request(
    image: bytes, question: str, tokens: int, *, thread: str | None = None
) -> GenerationRequest:
    return GenerationRequest(
        messages=(
            ChatMessage(Role.SYSTEM, (TextPart("You diagnose software errors."),)),
            ChatMessage(Role.USER, (ImagePart(image), TextPart(question))),
        ),
        max_new_tokens=tokens,
        min_new_tokens=tokens,
        reuse_key=thread,
    )


def _follow_up(first: GenerationRequest, tokens: int) -> GenerationRequest:
    return replace(
        first,
        messages=(
            *first.messages,
            ChatMessage(Role.ASSISTANT, (TextPart("It means a module is missing."),)),
            ChatMessage(Role.USER, (TextPart("Still failing after pip install."),)),
        ),
        max_new_tokens=tokens,
        min_new_tokens=tokens,
    )


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def naive_one(
    engine: TransformersEngine, request: GenerationRequest, streamer: BaseStreamer | None = None
) -> int:
    """The usual snippet: processor, generate, decode (`streamer` is handed to `generate()`)."""
    model, processor = engine._model, engine._processor
    images = [decode_for_model(i.data) for i in request.images]
    inputs = processor(text=[engine.render(request)], images=images, return_tensors="pt").to(
        model.device
    )
    with torch.inference_mode():
        output = model.generate(
            **inputs,
            max_new_tokens=request.max_new_tokens,
            min_new_tokens=request.min_new_tokens,
            do_sample=False,
            streamer=streamer,
        )
    processor.batch_decode(output[:, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
    _sync()
    return int(output.shape[1] - inputs["input_ids"].shape[1])


def naive(engine: TransformersEngine, requests: list[GenerationRequest]) -> Result:
    """One request after another."""
    latencies, total = [], 0
    started = time.perf_counter()
    for request in requests:
        total += naive_one(engine, request)
        latencies.append(time.perf_counter() - started)  # each waited for those before it
    return Result(total, time.perf_counter() - started, latencies)


async def through_engine(engine: TransformersEngine, requests: list[GenerationRequest]) -> Result:
    async def one(request: GenerationRequest) -> float:
        t0 = time.perf_counter()
        async for _ in engine.stream(request):
            pass
        return time.perf_counter() - t0

    started = time.perf_counter()
    latencies = await asyncio.gather(*(one(r) for r in requests))
    tokens = sum(r.max_new_tokens or 0 for r in requests)
    return Result(tokens, time.perf_counter() - started, list(latencies))


async def seconds(path: str, engine: TransformersEngine, request: GenerationRequest) -> float:
    """Wall time of one request, start to last token, alone on the path."""
    t0 = time.perf_counter()
    if path == "naive":
        await asyncio.to_thread(naive_one, engine, request)
    else:
        await through_engine(engine, [request])
    return time.perf_counter() - t0


async def measure(
    path: str, engine: TransformersEngine, requests: list[GenerationRequest]
) -> Result:
    if path == "naive":
        return await asyncio.to_thread(naive, engine, requests)
    return await through_engine(engine, requests)


async def single_request_rows(
    engine: TransformersEngine, shots: dict[str, bytes], tokens: int
) -> list[tuple[str, float, float]]:
    """(metric, engine, naive) for time to first token and batch-1 decode.

    Time to first token is the wall time of a one-token request (preprocessing
    included); decode is timed inside one request (`decode_ms_per_token`).
    """
    rows: list[tuple[str, float, float]] = []
    for name, shot in shots.items():
        size = Image.open(io.BytesIO(shot)).size
        cold = {
            path: await seconds(path, engine, _request(fresh_screenshot(size), QUESTIONS[0], 1))
            for path in PATHS
        }
        rows.append(
            (f"cold time to first token, {name} (ms)", 1000 * cold["engine"], 1000 * cold["naive"])
        )
    small = (1280, 800)
    follow = {}
    for path, thread in (("engine", "bench-thread"), ("naive", None)):
        first = _request(fresh_screenshot(small), QUESTIONS[1], tokens, thread=thread)
        await seconds(path, engine, first)  # the thread's first answer, left resident
        follow[path] = await seconds(path, engine, _follow_up(first, 1))
    rows.append(
        (
            "follow-up time to first token, resident thread (ms)",
            1000 * follow["engine"],
            1000 * follow["naive"],
        )
    )
    decode = {}
    for path in PATHS:
        request = _request(fresh_screenshot(small), QUESTIONS[2], max(tokens, DECODE_TOKENS))
        decode[path] = await decode_ms_per_token(path, engine, request)
    rows.append(("decode at batch 1 (ms/token)", decode["engine"], decode["naive"]))
    return rows


DECODE_TOKENS = 32  # at least this many tokens for the batch-1 decode row


async def decode_ms_per_token(
    path: str, engine: TransformersEngine, request: GenerationRequest
) -> float:
    """Milliseconds per token of one request alone, from its first output token to its last.

    Timed inside the one request, so its preparation and prefill are not in it
    (a difference of two requests' wall times carries their preprocessing noise).
    """
    if path == "naive":
        first, last = await asyncio.to_thread(_naive_first_and_last_token, engine, request)
    else:
        stamps = [
            time.perf_counter() async for piece in engine.stream(request) if isinstance(piece, str)
        ]
        first, last = stamps[0], stamps[-1]
    return 1000 * (last - first) / max(1, (request.max_new_tokens or 1) - 1)


class _TokenTimes(BaseStreamer):
    """When `generate()` hands over each new token (its first call is the prompt)."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def put(self, value: torch.Tensor) -> None:
        _sync()
        self.calls.append(time.perf_counter())

    def end(self) -> None:
        pass


def _naive_first_and_last_token(
    engine: TransformersEngine, request: GenerationRequest
) -> tuple[float, float]:
    times = _TokenTimes()
    naive_one(engine, request, streamer=times)
    return times.calls[1], times.calls[-1]


PATHS = ("engine", "naive")


ADMITTED: list[float] = []  # when each request joined a batch (the engines' queue-wait report)
OBSERVED: dict[str, list[float]] = {}  # every metric the engine reported, for the profile


def _observe(name: str, value: float) -> None:
    if name == "supportbot_engine_queue_wait_seconds":
        ADMITTED.append(time.perf_counter())
    OBSERVED.setdefault(name, []).append(value)


async def decode_gaps_while_joining(
    engine: TransformersEngine, joiner: GenerationRequest, running_tokens: int
) -> tuple[float, float]:
    """(longest, median) gap in seconds between pieces of a running answer while `joiner` joins.

    The window runs from `joiner` being admitted (its preprocessing done, on
    another thread) to its first piece, plus the running answer's next piece:
    the pause its prefill puts into answers already streaming. Measured on
    text pieces as a consumer sees them.
    """
    arrivals: list[float] = []
    running = _request(fresh_screenshot((640, 400)), QUESTIONS[0], running_tokens)
    first: float | None = None

    async def consume() -> None:
        async for _ in engine.stream(running):
            arrivals.append(time.perf_counter())
            if first is not None and arrivals[-1] > first:
                return  # the window is closed: stop the running answer early

    task = asyncio.create_task(consume())
    while len(arrivals) < 4:
        await asyncio.sleep(0.001)
    sent = time.perf_counter()
    async for piece in engine.stream(joiner):
        if first is None and isinstance(piece, str):
            first = time.perf_counter()
    await task
    if first is None or arrivals[-1] <= first:
        raise SystemExit("the running answer ended before the joining request's first token")
    admitted = min((t for t in ADMITTED if t >= sent), default=sent)
    before = [t for t in arrivals if t < admitted][-1:]
    during = [t for t in arrivals if admitted <= t <= first]
    after = [t for t in arrivals if t > first][:1]
    window = before + during + after
    gaps = [b - a for a, b in itertools.pairwise(window)] or [0.0]
    every = [b - a for a, b in itertools.pairwise(arrivals)]
    return max(gaps), statistics.median(every)


async def join_rows(
    engine: TransformersEngine, shots: dict[str, bytes], tokens: int, decode_mode: str
) -> list[tuple[str, float, float | None]]:
    """Rows for a 1920x1080 request joining a running answer, chunked and in one pass."""
    running_tokens = 4096  # stopped as soon as the joining request has its first token
    # Two slots and a pool of its own sized for them: left to size itself, this second
    # engine would reserve a share of what the first left free and hold it to the end,
    # and the later rows would run (and report their peak memory) beside it.
    one_pass = TransformersEngine.from_loaded(
        engine._model,
        engine._processor,
        device=str(engine._model.device),
        decode_mode=decode_mode,
        prefill_chunk_tokens=0,
        max_batch=2,
        kv_cache_bytes=2 * (running_tokens + 2048) * _bytes_per_column(engine),
        observe=_observe,
    )
    try:
        chunked_gap, median = await decode_gaps_while_joining(
            engine, _request(fresh_screenshot((1920, 1080)), QUESTIONS[1], 1), running_tokens
        )
        one_pass_gap, _ = await decode_gaps_while_joining(
            one_pass, _request(fresh_screenshot((1920, 1080)), QUESTIONS[1], 1), running_tokens
        )
    finally:
        await one_pass.close()
        del one_pass  # its pool and graphs go now, not at the end of the run
        gc.collect()
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    return [
        (
            "longest decode gap while a 1920x1080 request joins, chunked prefill (ms)",
            1000 * chunked_gap,
            None,
        ),
        (
            "longest decode gap while a 1920x1080 request joins, one-pass prefill (ms)",
            1000 * one_pass_gap,
            None,
        ),
        ("median decode gap of the running answer (ms)", 1000 * median, None),
    ]


def _bytes_per_column(engine: TransformersEngine) -> int:
    """Key/value bytes one token takes in every layer of `engine`'s model."""
    pool = engine.kv_pool
    assert pool is not None
    return pool.nbytes() // (pool.slots * pool.columns)


def _level_requests(n: int, kind: str, tokens: int) -> list[GenerationRequest]:
    """`n` requests with screenshots new to the engine: each its own, or two shared by all."""
    small, large = (1280, 800), (1920, 1080)
    if kind == "each its own":
        return [
            _request(fresh_screenshot(small if i % 2 else large), QUESTIONS[i % 3], tokens)
            for i in range(n)
        ]
    pair = (fresh_screenshot(small), fresh_screenshot(large))
    return [_request(pair[i % 2], QUESTIONS[i % 3], tokens) for i in range(n)]


def _median_and_range(values: list[float], digits: int) -> str:
    """The median, with the range beside it when there are several values."""
    middle = f"{statistics.median(values):.{digits}f}"
    if len(values) == 1:
        return middle
    return f"{middle} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def _rates(results: list[Result]) -> str:
    """Output tok/s: the median of the rounds, with their range when there are several."""
    return _median_and_range([result.tokens / result.seconds for result in results], 1)


def _paired_ratio(taken: dict[str, list[Result]]) -> str:
    """Engine tok/s over naive's within each round (same screenshots, minutes apart at
    most): the median, with the range. Steadier than a ratio of the two medians on a
    box whose speed drifts between rounds."""
    ratios = [
        (ours.tokens / ours.seconds) / (theirs.tokens / theirs.seconds)
        for ours, theirs in zip(taken["engine"], taken["naive"], strict=True)
    ]
    return _median_and_range(ratios, 2)


async def run(
    smoke: bool,
    tokens: int,
    concurrency: list[int],
    decode_mode: str,
    chunk: int,
    naive_sample: int | None = None,
    rounds: int = 1,
    encoder_workers: int = ENCODER_WORKERS,
    profile_follow_up: bool = False,
) -> None:
    from transformers import AutoProcessor

    with tempfile.TemporaryDirectory() as workdir:
        from tests.support.tiny_checkpoint import build_tiny_checkpoint

        checkpoint = build_tiny_checkpoint(Path(workdir) / "tiny", max_pixels=1280 * 1024)
        if smoke:
            engine = TransformersEngine(
                str(checkpoint),
                device="cpu",
                decode_mode=decode_mode,
                prefill_chunk_tokens=chunk,
                encoder_workers=encoder_workers,
                observe=_observe,
            )
            await engine.start()
            if engine.failure:
                raise SystemExit(f"engine failed to start: {engine.failure}")
            device = "cpu (tiny checkpoint, smoke run)"
        else:
            processor = AutoProcessor.from_pretrained(checkpoint)
            engine = TransformersEngine.from_loaded(
                full_size_model(processor),
                processor,
                device="cuda",
                decode_mode=decode_mode,
                prefill_chunk_tokens=chunk,
                encoder_workers=encoder_workers,
                observe=_observe,
            )
            device = torch.cuda.get_device_name()
    shots = {
        f"{w}x{h}": screenshot((w, h), i) for i, (w, h) in enumerate([(1280, 800), (1920, 1080)])
    }
    print(
        f"device: {device}; decode: {engine.decode_mode}; output fixed at {tokens} tokens; "
        f"prefill chunk {chunk} tokens; {encoder_workers} encoder threads; "
        f"torch {torch.__version__}; transformers {transformers.__version__}"
    )
    for path in PATHS:  # warm-up: kernels, allocator, tokenizer caches
        await seconds(path, engine, _request(shots["1920x1080"], QUESTIONS[2], 2))

    print("| metric | engine | naive |")
    print("| --- | --- | --- |")
    # Each group printed as soon as it is measured: a run killed at its limit keeps them.
    for group in (
        single_request_rows(engine, shots, tokens),
        join_rows(engine, shots, tokens, decode_mode),
    ):
        for metric, ours, theirs in await group:
            print(f"| {metric} | {ours:.1f} | {'n/a' if theirs is None else f'{theirs:.1f}'} |")
    print()
    print(
        "| concurrent | screenshots | path | output tok/s | p50 latency s | p95 latency s "
        "| peak GPU GiB | engine ÷ naive, same round |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for n in concurrency:
        for kind in ("each its own", "2 shared"):
            taken: dict[str, list[Result]] = {name: [] for name in PATHS}
            peaks = dict.fromkeys(PATHS, 0.0)
            for round_ in range(rounds):
                requests = _level_requests(n, kind, tokens)
                # Paths take turns going first, so neither is always measured on a warmer box.
                for name in PATHS if round_ % 2 else PATHS[::-1]:
                    if torch.cuda.is_available():
                        torch.cuda.reset_peak_memory_stats()
                    # The naive path runs one request after another, so its tokens/s is the
                    # same for any count; a sample keeps long GPU runs short. Its latencies
                    # then describe the sample only.
                    sampled = name == "naive" and naive_sample is not None and naive_sample < n
                    taken[name].append(
                        await measure(
                            name, engine, requests[:naive_sample] if sampled else requests
                        )
                    )
                    if torch.cuda.is_available():
                        peak = torch.cuda.max_memory_allocated() / 2**30
                        peaks[name] = max(peaks[name], peak)
            for name in PATHS[::-1]:
                sampled = name == "naive" and naive_sample is not None and naive_sample < n
                results = taken[name]
                latencies = [latency for result in results for latency in result.latencies]
                latency = (
                    "n/a (sampled) | n/a (sampled)"
                    if sampled
                    else f"{statistics.median(latencies):.2f} | {percentile(latencies, 0.95):.2f}"
                )
                label = f"naive ({naive_sample} of {n})" if sampled else name
                paired = _paired_ratio(taken) if name == "engine" else ""
                print(
                    f"| {n} | {kind} | {label} | {_rates(results)} | {latency} "
                    f"| {peaks[name]:.1f} | {paired} |",
                    flush=True,
                )
    if profile_follow_up:  # last: a run killed at its limit has every table above
        print()
        for line in await follow_up_profile.report(
            engine, lambda: fresh_screenshot((1280, 800)), OBSERVED
        ):
            print(line, flush=True)
    await engine.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny checkpoint on the CPU")
    parser.add_argument("--tokens", type=int, default=None, help="output tokens per request")
    parser.add_argument("--concurrency", default=None, help="comma-separated, e.g. 1,8,32")
    parser.add_argument(
        "--decode-mode",
        default="auto",
        choices=[mode.value for mode in DecodeMode],
        help="the engine's DECODE_MODE (auto: eager until a mode has met the start-up bounds)",
    )
    parser.add_argument(
        "--prefill-chunk",
        type=int,
        default=None,
        help="PREFILL_CHUNK_TOKENS (default 512; 16 in the smoke run, whose screenshots are short)",
    )
    parser.add_argument(
        "--encoder-workers",
        type=int,
        default=ENCODER_WORKERS,
        help=f"ENCODER_WORKERS (default {ENCODER_WORKERS})",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="rounds per concurrency level, each with new screenshots, the paths taking turns "
        "to go first; tok/s is their median (and range)",
    )
    parser.add_argument(
        "--naive-sample",
        type=int,
        default=None,
        help="run the naive path on only this many of each concurrency level's requests",
    )
    parser.add_argument(
        "--profile-follow-up",
        action="store_true",
        help="after the tables, split a follow-up's first token and profile its prefill "
        "(bench/follow_up_profile.py)",
    )
    args = parser.parse_args()
    tokens = args.tokens or (8 if args.smoke else 256)
    levels = [int(n) for n in (args.concurrency or ("1,2" if args.smoke else "1,8,32")).split(",")]
    if not args.smoke and not torch.cuda.is_available():
        parser.error("no CUDA device: use --smoke")
    chunk = args.prefill_chunk if args.prefill_chunk is not None else (16 if args.smoke else 512)
    asyncio.run(
        run(
            args.smoke,
            tokens,
            levels,
            args.decode_mode,
            chunk,
            args.naive_sample,
            args.rounds,
            args.encoder_workers,
            args.profile_follow_up,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
