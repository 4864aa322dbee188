"""The batch policy's decisions, without a model: gathering, admission, backing off."""

from __future__ import annotations

from concurrent.futures import Future

import torch

from bot.engine.policy import GROW_BACK_STEPS, BatchLimits, BatchPolicy
from bot.engine.prepared import PreparedPrompt
from bot.engine.request import ChatMessage, GenerationRequest, Queued, Role, TextPart
from bot.engine.sequence import Sequence

REQUEST = GenerationRequest((ChatMessage(Role.USER, (TextPart("why?"),)),), max_new_tokens=8)


def _prompt(tokens: int) -> PreparedPrompt:
    return PreparedPrompt(
        token_ids=tuple(range(tokens)),
        positions=torch.arange(tokens).expand(4, -1),
        rope_delta=0,
        mm_token_type_ids=torch.zeros(tokens, dtype=torch.long),
        image_patches=(),
        image_grid_thw=None,
        image_digests=(),
    )


def _sequence(
    prepared: bool = True, tokens: int = 10, sent: list[object] | None = None
) -> Sequence:
    future: Future[PreparedPrompt] = Future()
    if prepared:
        future.set_result(_prompt(tokens))
    box = sent if sent is not None else []
    return Sequence(REQUEST, future, box.append, max_new_tokens=8)


def test_a_request_alone_is_not_kept_waiting_for_a_burst() -> None:
    policy = BatchPolicy(BatchLimits(max_batch=8))
    policy.pending.append(_sequence())
    assert policy.burst_gathered()  # nothing else in line: go now


def test_gathering_waits_for_requests_still_being_prepared_until_the_batch_is_full() -> None:
    policy = BatchPolicy(BatchLimits(max_batch=2))
    policy.pending += [_sequence(), _sequence(prepared=False)]
    assert not policy.burst_gathered()  # one more is on its way
    policy.pending.append(_sequence())
    assert policy.burst_gathered()  # two ready fill the batch


def test_admission_stops_at_the_token_budget_and_tells_the_rest_their_place() -> None:
    policy = BatchPolicy(BatchLimits(max_batch=8, token_budget=40))
    told: list[object] = []
    first, second, third = _sequence(tokens=20), _sequence(tokens=20), _sequence(sent=told)
    policy.pending += [first, second, third]
    assert policy.admit() == [first]  # 28 reserved; the next 28 would pass 40
    assert policy.joining == 1
    assert third.told_ahead == 2 and told == [Queued(2)]


def test_a_prompt_is_chunked_only_while_answers_are_running() -> None:
    policy = BatchPolicy(BatchLimits(prefill_chunk=512))
    assert not policy.chunked(2000)  # alone, one pass answers sooner
    policy.active.append(_sequence())
    assert policy.chunked(2000) and not policy.chunked(512)
    assert not BatchPolicy(BatchLimits(prefill_chunk=0)).chunked(2000)


def test_out_of_memory_halves_the_batch_and_the_limit_grows_back_slowly() -> None:
    policy = BatchPolicy(BatchLimits(max_batch=8))
    rows = [_sequence() for _ in range(4)]
    for slot, row in enumerate(rows):
        row.slot = slot
    policy.active = list(reversed(rows))
    assert policy.halve_batch() == rows[2:]  # the highest slots leave
    assert policy.active == rows[:2] and policy.batch_limit == 2
    for _ in range(GROW_BACK_STEPS):
        policy.step_succeeded()
    assert policy.batch_limit == 3
