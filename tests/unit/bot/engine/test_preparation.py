"""Preparation: the processor's steps taken one by one give the processor's own call, and a
screenshot whose encoding is at hand is prepared without its patches (made only if read)."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import torch
from PIL import Image

from bot.engine import ChatMessage, GenerationRequest, ImagePart, Role, TextPart
from bot.engine.chunked_prefill import ChunkedPrefill
from bot.engine.encode_ahead import ENCODED_AHEAD
from bot.engine.image_grids import ImageGrids
from bot.engine.images import decode_for_model
from bot.engine.preparation import EncodingsAtHand, PromptPreparer
from bot.engine.prepared import ImagesInPrompt, PreparedPrompt
from bot.engine.transformers_engine import TransformersEngine
from tests.support.observed_engine import start_observed_engine
from tests.support.screenshots import render_error_screenshot

pytestmark = pytest.mark.slow

SYSTEM = ChatMessage(Role.SYSTEM, (TextPart("You diagnose errors."),))
WIDE = render_error_screenshot(size=(1280, 800))
TALL = render_error_screenshot(["KeyError: 'user_id'"], size=(500, 900))


def _upright_after_exif(size: tuple[int, int]) -> bytes:
    """A JPEG stored sideways with EXIF orientation 6: the model sees it turned upright."""
    image = Image.open(io.BytesIO(render_error_screenshot(size=size))).convert("RGB")
    exif = Image.Exif()
    exif[0x0112] = 6
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif)
    return out.getvalue()


SIDEWAYS = _upright_after_exif((700, 300))


def _ask(*shots: bytes, key: str | None = None) -> GenerationRequest:
    parts: tuple[ImagePart | TextPart, ...] = (
        *(ImagePart(shot) for shot in shots),
        TextPart("what is this?"),
    )
    return GenerationRequest(
        messages=(SYSTEM, ChatMessage(Role.USER, parts)), max_new_tokens=4, reuse_key=key
    )


def _preparer(engine: TransformersEngine) -> PromptPreparer:
    """A preparer of its own (its own grids) on the engine's model and processor."""
    return PromptPreparer(
        engine._model, engine._processor, max_image_pixels=engine.config.max_image_pixels
    )


def _patches(prompt: PreparedPrompt) -> torch.Tensor:
    return torch.cat([image.patches for image in prompt.images_from(0)])


def _holding(images: set[int], asked: list[ImagesInPrompt] | None = None) -> EncodingsAtHand:
    """An engine's answer that it holds the encodings of `images` (the questions kept)."""

    def at_hand(prompt: ImagesInPrompt) -> set[int]:
        if asked is not None:
            asked.append(prompt)
        return images

    return at_hand


@pytest.mark.parametrize(
    "shots",
    [(), (WIDE,), (TALL, SIDEWAYS), (WIDE, WIDE)],
    ids=["text", "one-screenshot", "portrait-and-exif-rotated", "the-same-twice"],
)
def test_a_prompt_is_prepared_as_the_processor_itself_prepares_it(
    tiny_engine: TransformersEngine, shots: tuple[bytes, ...]
) -> None:
    request = _ask(*shots)
    processor, model = tiny_engine._processor, tiny_engine._model
    images = [decode_for_model(shot) for shot in shots]
    own = processor(text=[tiny_engine.render(request)], images=images or None, return_tensors="pt")

    prompt = _preparer(tiny_engine).prepare(request)

    assert list(prompt.token_ids) == own["input_ids"][0].tolist()
    assert torch.equal(prompt.mm_token_type_ids, own["mm_token_type_ids"][0].to(torch.long))
    if shots:
        assert prompt.image_grid_thw is not None
        assert torch.equal(prompt.image_grid_thw, own["image_grid_thw"])
        assert torch.equal(_patches(prompt), own["pixel_values"])
        rope, delta = model.model.get_rope_index(
            own["input_ids"],
            mm_token_type_ids=own["mm_token_type_ids"],
            image_grid_thw=own["image_grid_thw"],
        )
        assert torch.equal(prompt.positions[1:], rope[:, 0, :])
        assert prompt.rope_delta == int(delta.reshape(-1)[0])
    else:
        assert prompt.image_grid_thw is None and prompt.image_patches == ()
    assert torch.equal(prompt.positions[0], torch.arange(len(prompt)))


def test_a_screenshot_seen_lately_whose_encoding_is_at_hand_gets_no_patches_until_read(
    tiny_engine: TransformersEngine,
) -> None:
    preparer = _preparer(tiny_engine)
    first = preparer.prepare(_ask(TALL, WIDE))
    asked: list[ImagesInPrompt] = []

    # the second screenshot's encoding is held
    again = preparer.prepare(_ask(TALL, WIDE, key="T1"), _holding({1}, asked))

    assert asked == [ImagesInPrompt("T1", first.token_ids, first.image_spans, first.image_digests)]
    assert [patches.made for patches in again.image_patches] == [True, False]
    assert again.token_ids == first.token_ids and torch.equal(again.positions, first.positions)
    # read after all (the encoding went in between): the processor's own patches
    assert torch.equal(again.images_from(0)[1].patches, first.images_from(0)[1].patches)
    assert again.image_patches[1].made


def test_a_screenshot_not_seen_lately_is_processed_whatever_the_engine_holds(
    tiny_engine: TransformersEngine,
) -> None:
    prompt = _preparer(tiny_engine).prepare(_ask(WIDE), _holding({0}))

    assert [patches.made for patches in prompt.image_patches] == [True]


def test_patches_left_for_later_give_the_same_encoding_when_the_encoder_reads_them(
    tiny_engine: TransformersEngine,
) -> None:
    preparer = _preparer(tiny_engine)
    eager = preparer.prepare(_ask(WIDE))
    lazy = preparer.prepare(_ask(WIDE), _holding({0}))
    encoder = ChunkedPrefill(tiny_engine._model)

    with torch.inference_mode():
        made_now, _ = encoder.encode(eager.images_from(0))
        made_later, _ = encoder.encode(lazy.images_from(0))

    assert torch.equal(made_now, made_later)


def test_the_grids_kept_are_bounded_and_the_least_recently_used_goes_first() -> None:
    grids = ImageGrids(capacity=2)
    grids.put("a", (1, 2, 2))
    grids.put("b", (1, 4, 4))
    assert grids.get("a") == (1, 2, 2)  # a used: b is now the oldest
    grids.put("c", (1, 6, 6))
    assert (grids.get("a"), grids.get("b"), grids.get("c"), len(grids)) == (
        (1, 2, 2),
        None,
        (1, 6, 6),
        2,
    )


# ----- through the engine: a follow-up's screenshot under its thread's prefix -----


@pytest.fixture
async def no_encoder_cache_room(tiny_checkpoint: Path) -> AsyncIterator[TransformersEngine]:
    """Encodes ahead, but no encoding fits its cache: only the thread's prefix holds one."""
    engine, seen, _ = await start_observed_engine(
        tiny_checkpoint, [ENCODED_AHEAD], encoder_cache_bytes=1024
    )
    engine.ahead = seen[ENCODED_AHEAD]  # type: ignore[attr-defined]
    yield engine
    await engine.close()


async def _text(engine: TransformersEngine, request: GenerationRequest) -> str:
    return "".join([p async for p in engine.stream(request) if isinstance(p, str)])


def _follow_up(first: GenerationRequest, answer: str) -> GenerationRequest:
    return GenerationRequest(
        messages=(
            *first.messages,
            ChatMessage(Role.ASSISTANT, (TextPart(answer),)),
            ChatMessage(Role.USER, (TextPart("still failing after the restart"),)),
        ),
        max_new_tokens=4,
        reuse_key=first.reuse_key,
    )


async def test_a_follow_ups_screenshot_under_its_threads_prefix_is_neither_processed_nor_encoded(
    no_encoder_cache_room: TransformersEngine, tiny_engine: TransformersEngine
) -> None:
    engine = no_encoder_cache_room
    first = _ask(WIDE, key="T1")
    follow_up = _follow_up(first, await _text(engine, first))
    assert engine.ahead == [1]  # type: ignore[attr-defined]

    prompt = engine.prepare(follow_up)
    answer = await _text(engine, follow_up)

    assert [patches.made for patches in prompt.image_patches] == [False]
    assert engine.ahead == [1]  # type: ignore[attr-defined]  # not encoded again
    assert engine.prefixes.hits == 1
    # the same answer as computing the whole follow-up from scratch
    assert answer == await _text(tiny_engine, _follow_up(_ask(WIDE), _answer_of(follow_up)))


def _answer_of(follow_up: GenerationRequest) -> str:
    (text,) = follow_up.messages[2].parts
    assert isinstance(text, TextPart)
    return text.text
