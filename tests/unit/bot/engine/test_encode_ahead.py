"""Screenshots encoded ahead: on the encoder thread, within a budget, never at an answer's cost."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
import torch

from bot.engine import GenerationRequest
from bot.engine.chunked_prefill import ChunkedPrefill
from bot.engine.encode_ahead import ENCODED_AHEAD, AheadEncoder
from bot.engine.encoder_cache import EncoderCache
from bot.engine.prepared import PreparedPrompt
from bot.engine.sequence import Sequence
from bot.engine.transformers_engine import TransformersEngine
from tests.support.engine_requests import fixed_length_request
from tests.support.observed_engine import start_observed_engine

pytestmark = pytest.mark.slow


async def _text(engine: TransformersEngine, request: GenerationRequest) -> str:
    return "".join([p async for p in engine.stream(request) if isinstance(p, str)])


async def _engine(checkpoint: Path, **overrides: Any) -> TransformersEngine:
    engine, seen, threads = await start_observed_engine(checkpoint, [ENCODED_AHEAD], **overrides)
    engine.ahead = seen[ENCODED_AHEAD]  # type: ignore[attr-defined]
    engine.encoder_threads = threads  # type: ignore[attr-defined]
    return engine


@pytest.fixture
async def engines(tiny_checkpoint: Path) -> AsyncIterator[tuple[TransformersEngine, ...]]:
    ahead = await _engine(tiny_checkpoint, prefill_chunk_tokens=16)
    on_model_thread = await _engine(tiny_checkpoint, encoder_cache_bytes=0)
    yield ahead, on_model_thread
    await ahead.close()
    await on_model_thread.close()


async def test_a_screenshot_is_encoded_on_the_encoder_thread_with_the_same_answer(
    engines: tuple[TransformersEngine, TransformersEngine],
) -> None:
    ahead, on_model_thread = engines
    request = fixed_length_request("what is this?", 10, size=(640, 400))

    answer = await _text(ahead, request)

    assert [name.split("_")[0] for name in ahead.encoder_threads] == ["supportbot-encode"]  # type: ignore[attr-defined]
    assert ahead.ahead == [1]  # type: ignore[attr-defined]
    assert answer == await _text(on_model_thread, request)
    # With no encoder cache there is no budget to hold an encoding in: the model thread encodes.
    assert [n.split("_")[0] for n in on_model_thread.encoder_threads] == ["supportbot-model"]  # type: ignore[attr-defined]


async def test_joiners_encoded_ahead_answer_as_when_the_model_thread_encodes_them(
    engines: tuple[TransformersEngine, TransformersEngine],
) -> None:
    ahead, on_model_thread = engines
    running = fixed_length_request("why does the build fail?", 40)
    joiners = [
        fixed_length_request("is it the proxy?", 8, size=(900, 500)),
        fixed_length_request("what is this?", 8, size=(500, 900)),
    ]

    async def answers(engine: TransformersEngine) -> list[str]:
        stream = engine.stream(running)
        first = await _first_piece(stream)  # an answer is decoding: the joiners go in chunks
        rest = asyncio.create_task(_rest(stream))
        joined = await asyncio.gather(*(_text(engine, joiner) for joiner in joiners))
        return [first + await rest, *joined]

    assert await answers(ahead) == await answers(on_model_thread)
    assert sorted(ahead.ahead) == [1, 1]  # type: ignore[attr-defined]
    assert {n.split("_")[0] for n in ahead.encoder_threads} == {"supportbot-encode"}  # type: ignore[attr-defined]


async def _rest(stream: AsyncIterator[object]) -> str:
    return "".join([p async for p in stream if isinstance(p, str)])


# ----- the encoder on its own: budget, cancellation, failed preparation -----


@pytest.fixture
async def prepared(tiny_checkpoint: Path) -> AsyncIterator[TransformersEngine]:
    """An engine that prepares prompts for the encoders under test (its own encodes none)."""
    engine = await _engine(tiny_checkpoint, encoder_cache_bytes=0)
    yield engine
    await engine.close()


def _sequence(engine: TransformersEngine, size: tuple[int, int]) -> Sequence:
    request = fixed_length_request("what is this?", 1, size=size)
    future: Future[PreparedPrompt] = Future()
    future.set_result(engine.prepare(request))
    return Sequence(request, future, lambda _: None, max_new_tokens=1)


def _encoded_ahead(engine: TransformersEngine, encoder: AheadEncoder) -> Sequence:
    """A 640x400 screenshot's request, its screenshot encoded ahead by `encoder`."""
    sequence = _sequence(engine, (640, 400))
    encoder.after(sequence).result(timeout=60)
    return sequence


@contextlib.contextmanager
def _before_each_encoder_call(
    engine: TransformersEngine, hook: Callable[[torch.nn.Module, Any], None]
) -> Iterator[None]:
    """`hook` runs on the calling thread before each call into the real vision encoder."""
    handle = engine._model.model.visual.register_forward_pre_hook(hook)
    try:
        yield
    finally:
        handle.remove()


@contextlib.contextmanager
def _encoder_calls(engine: TransformersEngine) -> Iterator[list[str]]:
    """The threads of each call into the real vision encoder while inside."""
    calls: list[str] = []
    with _before_each_encoder_call(
        engine, lambda _module, _args: calls.append(threading.current_thread().name)
    ):
        yield calls


@pytest.fixture
def ahead_of(prepared: TransformersEngine) -> Iterator[Callable[..., AheadEncoder]]:
    """Makes encoders on the prepared engine's model with a budget; closed after the test."""
    made: list[AheadEncoder] = []

    def make(budget: int, workers: int = 1) -> AheadEncoder:
        chunks = ChunkedPrefill(prepared._model, encodings=EncoderCache(2**30))
        made.append(
            AheadEncoder(
                chunks,
                budget_bytes=budget,
                workers=workers,
                device=torch.device("cpu"),
                observe=lambda _n, _v: None,
            )
        )
        return made[-1]

    yield make
    for encoder in made:
        encoder.close()


async def test_past_the_budget_a_screenshot_is_left_for_admission_until_the_held_one_is_taken(
    prepared: TransformersEngine, ahead_of: Callable[..., AheadEncoder]
) -> None:
    first, second, third = (_sequence(prepared, (300 + 20 * i, 200)) for i in range(3))
    encoder = ahead_of(1)  # room for one encoding at a time
    encoder.after(first).result(timeout=60)
    assert first.encoded is not None and encoder.held_bytes == first.encoded.nbytes

    assert encoder.after(second).result(timeout=60) is second.prompt
    assert second.encoded is None  # no room: the model thread will encode it

    first.encoded = None  # its prefill took it
    gc.collect()
    assert encoder.held_bytes == 0
    encoder.after(third).result(timeout=60)
    assert third.encoded is not None


async def test_two_workers_encode_two_requests_screenshots_at_once(
    prepared: TransformersEngine, ahead_of: Callable[..., AheadEncoder]
) -> None:
    first, second = (_sequence(prepared, (640 + 20 * i, 400)) for i in range(2))
    encoder = ahead_of(2**30, workers=2)
    # Each encoder call waits at the barrier for the other: only two at once get through.
    both_inside = threading.Barrier(2, timeout=30)
    inside: list[str] = []

    def meet(_module: torch.nn.Module, _args: Any) -> None:
        inside.append(threading.current_thread().name)
        both_inside.wait()

    with _before_each_encoder_call(prepared, meet):
        for ready in [encoder.after(first), encoder.after(second)]:
            ready.result(timeout=60)
    assert first.encoded is not None and second.encoded is not None
    assert len(set(inside)) == 2 and all(n.startswith("supportbot-encode") for n in inside)


def _once_a_thread_waits(encoder: AheadEncoder, monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once a thread has claimed its screenshots and found one under way on another:
    the real `_claim` runs, this only watches what it returns."""
    waiting = threading.Event()
    claim = encoder._claim

    def watched(*args: Any, **kwargs: Any) -> Any:
        shared, waits, mine = claim(*args, **kwargs)
        if waits:
            waiting.set()
        return shared, waits, mine

    monkeypatch.setattr(encoder, "_claim", watched)
    return waiting


def _one_screenshot_twice(
    prepared: TransformersEngine,
    ahead_of: Callable[..., AheadEncoder],
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[Sequence, Sequence, AheadEncoder, threading.Event]:
    """Two requests with the same screenshot, a two-thread encoder, and the event set once
    one of its threads waits for the other's encoding."""
    first, second = (_sequence(prepared, (640, 400)) for _ in range(2))
    encoder = ahead_of(2**30, workers=2)
    return first, second, encoder, _once_a_thread_waits(encoder, monkeypatch)


async def test_a_screenshot_a_waiting_request_holds_is_shared_not_encoded_again(
    prepared: TransformersEngine, ahead_of: Callable[..., AheadEncoder]
) -> None:
    first, second, third = (_sequence(prepared, (640, 400)) for _ in range(3))
    encoder = ahead_of(2**30, workers=2)
    with _encoder_calls(prepared) as calls:
        encoder.after(first).result(timeout=60)
        encoder.after(second).result(timeout=60)  # while `first` still holds its encoding
        assert len(calls) == 1
        assert first.encoded is not None and second.encoded is not None
        (mine,) = first.encoded.encodings.values()
        (theirs,) = second.encoded.encodings.values()
        assert mine is theirs
        # Once no request holds it (and the cache never had it), it is made again.
        first.encoded = second.encoded = None
        del mine, theirs
        gc.collect()
        assert encoder.held_bytes == 0
        encoder.after(third).result(timeout=60)
        assert third.encoded is not None and len(calls) == 2


async def test_a_screenshot_under_way_on_one_thread_is_waited_for_by_the_other(
    prepared: TransformersEngine,
    ahead_of: Callable[..., AheadEncoder],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second, encoder, waiting = _one_screenshot_twice(prepared, ahead_of, monkeypatch)

    def hold_back(_module: torch.nn.Module, _args: Any) -> None:
        """The first thread's encoding waits until the second has found it under way."""
        assert waiting.wait(timeout=30)

    with _encoder_calls(prepared) as calls, _before_each_encoder_call(prepared, hold_back):
        for ready in [encoder.after(first), encoder.after(second)]:
            ready.result(timeout=60)
    assert waiting.is_set() and len(calls) == 1
    assert first.encoded is not None and second.encoded is not None
    assert [*first.encoded.encodings.values()] == [*second.encoded.encodings.values()]


async def test_a_failed_encoding_leaves_its_waiter_ready_for_the_model_thread(
    prepared: TransformersEngine,
    ahead_of: Callable[..., AheadEncoder],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second, encoder, waiting = _one_screenshot_twice(prepared, ahead_of, monkeypatch)

    def fail_once_the_other_waits(_module: torch.nn.Module, _args: Any) -> None:
        assert waiting.wait(timeout=30)
        raise RuntimeError("the encoder failed")

    with _before_each_encoder_call(prepared, fail_once_the_other_waits):
        readies = [encoder.after(first), encoder.after(second)]
        assert [ready.result(timeout=60) for ready in readies] == [first.prompt, second.prompt]
    # Both are left to the model thread: the one whose encoding failed, and its waiter.
    assert first.encoded is None and second.encoded is None
    assert encoder.held_bytes == 0


async def test_a_collection_inside_the_encoders_lock_gives_held_bytes_back_without_deadlock(
    prepared: TransformersEngine, ahead_of: Callable[..., AheadEncoder]
) -> None:
    encoder = ahead_of(2**30)
    sequence = _encoded_ahead(prepared, encoder)
    assert encoder.held_bytes > 0
    gc.disable()  # so that only the collection below frees the cycle
    try:
        loop: list[object] = [sequence.encoded]
        loop.append(loop)  # the held encodings now only the cyclic collector frees
        sequence.encoded = None
        del loop

        def collect_inside_the_lock() -> None:
            # A collection may start at any allocation, in the encoder's locked sections too.
            with encoder._lock:
                gc.collect()

        collector = threading.Thread(target=collect_inside_the_lock, daemon=True)
        collector.start()
        collector.join(timeout=10)
        assert not collector.is_alive(), "the finalizer waited for the lock its thread held"
    finally:
        gc.enable()
    assert encoder.held_bytes == 0


async def test_the_held_encodings_are_the_ones_the_model_thread_would_make(
    prepared: TransformersEngine, ahead_of: Callable[..., AheadEncoder]
) -> None:
    sequence = _encoded_ahead(prepared, ahead_of(2**30))
    assert sequence.encoded is not None
    (held,) = sequence.encoded.encodings.values()
    with torch.inference_mode():
        embeds, deepstack = ChunkedPrefill(prepared._model).encode(sequence.prompt.images_from(0))
    assert torch.equal(held.embeds, embeds)
    assert all(torch.equal(a, b) for a, b in zip(held.deepstack, deepstack, strict=True))


async def test_a_request_cancelled_in_line_is_not_encoded_and_is_still_ready(
    prepared: TransformersEngine, ahead_of: Callable[..., AheadEncoder]
) -> None:
    sequence = _sequence(prepared, (640, 400))
    sequence.cancelled.set()
    encoder = ahead_of(2**30)
    assert encoder.after(sequence).result(timeout=60) is sequence.prompt
    assert sequence.encoded is None and encoder.held_bytes == 0


async def test_a_failed_preparation_reaches_the_scheduler_as_it_was(
    prepared: TransformersEngine, ahead_of: Callable[..., AheadEncoder]
) -> None:
    request = fixed_length_request("what is this?", 1, size=(640, 400))
    failed: Future[PreparedPrompt] = Future()
    failed.set_exception(ValueError("not an image"))
    sequence = Sequence(request, failed, lambda _: None, max_new_tokens=1)
    encoder = ahead_of(2**30)
    ready = encoder.after(sequence)
    with pytest.raises(ValueError, match="not an image"):
        ready.result(timeout=60)


async def test_after_closing_a_prepared_request_is_ready_without_being_encoded(
    prepared: TransformersEngine, ahead_of: Callable[..., AheadEncoder]
) -> None:
    sequence = _sequence(prepared, (640, 400))
    encoder = ahead_of(2**30)
    encoder.close()
    assert encoder.after(sequence).result(timeout=60) is sequence.prompt
    assert sequence.encoded is None


async def _first_piece(stream: AsyncIterator[str | object]) -> str:
    async for piece in stream:
        if isinstance(piece, str):
            return piece
    raise AssertionError("the answer ended before its first piece")
