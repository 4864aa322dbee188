"""Reuse across turns: a follow-up skips what is computed and answers as a cold run does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import torch

from bot.engine import ChatMessage, GenerationRequest, ImagePart, Role, TextPart
from bot.engine.prefix_cache import CachedPrefix, PrefixStore
from bot.engine.transformers_engine import TransformersEngine
from tests.support.screenshots import render_error_screenshot

SYSTEM = ChatMessage(Role.SYSTEM, (TextPart("You diagnose errors."),))
FIRST_SHOT = render_error_screenshot()
OTHER_SHOT = render_error_screenshot(["PermissionError: [Errno 13] /var/run/app.sock"])


def _ask(*messages: ChatMessage, key: str | None = "T1") -> GenerationRequest:
    return GenerationRequest(messages=(SYSTEM, *messages), max_new_tokens=16, reuse_key=key)


def _user(text: str, shot: bytes | None = None) -> ChatMessage:
    parts: tuple[ImagePart | TextPart, ...] = (TextPart(text),)
    return ChatMessage(Role.USER, parts if shot is None else (ImagePart(shot), *parts))


async def _text(engine: TransformersEngine, request: GenerationRequest) -> str:
    return "".join([p async for p in engine.stream(request) if isinstance(p, str)])


@pytest.fixture
async def engines(
    tiny_checkpoint: Path,
) -> AsyncIterator[tuple[TransformersEngine, TransformersEngine]]:
    """An engine that reuses threads' prefixes, and one that never does."""
    warm = TransformersEngine(str(tiny_checkpoint), device="cpu")
    cold = TransformersEngine(str(tiny_checkpoint), device="cpu", prefix_cache_bytes=0)
    await warm.start()
    await cold.start()
    yield warm, cold
    await warm.close()
    await cold.close()


@pytest.mark.slow
@pytest.mark.parametrize("follow_up_shot", [None, OTHER_SHOT], ids=["text", "new-screenshot"])
async def test_a_follow_up_reuses_the_thread_and_answers_as_a_cold_run_does(
    engines: tuple[TransformersEngine, TransformersEngine], follow_up_shot: bytes | None
) -> None:
    warm, cold = engines
    question = _user("what is this?", FIRST_SHOT)
    answer = await _text(warm, _ask(question))
    assert len(warm.prefixes) == 1  # kept before the answer was reported finished

    follow_up = _ask(
        question,
        ChatMessage(Role.ASSISTANT, (TextPart(answer),)),
        _user("still failing after the restart", follow_up_shot),
    )
    assert await _text(warm, follow_up) == await _text(cold, follow_up)
    first_prompt = warm.prepare(_ask(question))
    # the screenshot and everything up to the previous answer came from the cache
    assert warm.prefixes.hits == 1
    assert warm.prefixes.reused_tokens > first_prompt.image_spans[0][1]


@pytest.mark.slow
async def test_a_different_screenshot_of_the_same_size_is_not_mistaken_for_the_cached_one(
    engines: tuple[TransformersEngine, TransformersEngine],
) -> None:
    warm, cold = engines
    await _text(warm, _ask(_user("what is this?", FIRST_SHOT)))
    swapped = _ask(_user("what is this?", OTHER_SHOT))
    assert await _text(warm, swapped) == await _text(cold, swapped)
    image_start = warm.prepare(swapped).image_spans[0][0]
    # the system prompt only, up to the picture
    assert (warm.prefixes.hits, warm.prefixes.reused_tokens) == (1, image_start)


def _prefix(tokens: int, key_bytes_per_token: int = 64) -> CachedPrefix:
    values_per_token = key_bytes_per_token // 4
    tensor = torch.zeros((1, 1, tokens, values_per_token))
    return CachedPrefix(tuple(range(tokens)), (), [(tensor, tensor.clone())])


def test_the_store_evicts_the_least_recently_used_thread_past_its_byte_limit() -> None:
    store = PrefixStore(max_bytes=3 * _prefix(10).nbytes)
    for key in ("a", "b", "c"):
        store.keep(key, _prefix(10))
    assert store.take("a", list(range(20)), [], []) is not None  # a is taken: b is now oldest
    store.keep("a", _prefix(10))
    store.keep("d", _prefix(10))
    assert store.take("b", list(range(20)), [], []) is None
    assert len(store) == 3 and store.nbytes == 3 * _prefix(10).nbytes


def test_a_hit_leaves_at_least_one_token_to_compute_and_stops_at_a_changed_token() -> None:
    store = PrefixStore(max_bytes=10**6)
    store.keep("t", _prefix(10))
    hit = store.take("t", list(range(10)), [], [])
    assert hit is not None and hit.length == 9
    assert hit.tensors[0][0].shape[-2] == 9

    store.keep("t", _prefix(10))
    changed = [0, 1, 2, 99, 4, 5]
    hit = store.take("t", changed, [], [])
    assert hit is not None and hit.length == 3


def test_an_image_only_partly_inside_the_shared_tokens_is_recomputed_whole() -> None:
    store = PrefixStore(max_bytes=10**6)
    entry = _prefix(10)
    store.keep("t", CachedPrefix(entry.token_ids, ("same",), entry.tensors))
    prompt = [*range(8), 50, 51, 52]  # the image spans tokens 5..9; only 5..7 agree
    hit = store.take("t", prompt, [(5, 10)], ["same"])
    assert hit is not None and hit.length == 5


def test_a_prefix_larger_than_the_whole_store_is_not_kept() -> None:
    store = PrefixStore(max_bytes=_prefix(10).nbytes - 1)
    store.keep("t", _prefix(10))
    assert len(store) == 0 and store.nbytes == 0
