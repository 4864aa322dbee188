"""A second model runner on a started engine's model, driven on the caller's thread.

The profiling scripts time one prefill alone, without the engine's threads
and hand-offs around it (`bench/ttft_profile.py`, `bench/follow_up_profile.py`):
the same model and prompts, eager decode, a prefix store of the script's own.
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import Future

from bot.engine.decode_mode import DecodeMode
from bot.engine.prefix_cache import PrefixStore
from bot.engine.prepared import PreparedPrompt
from bot.engine.request import GenerationRequest
from bot.engine.runner import ModelRunner
from bot.engine.sampling import TokenChooser
from bot.engine.sequence import Sequence
from bot.engine.transformers_engine import TransformersEngine


def runner_beside(engine: TransformersEngine, prefixes: PrefixStore | None = None) -> ModelRunner:
    """A `ModelRunner` on `engine`'s model (eager decode), keeping prefixes in `prefixes`."""
    model = engine._model
    return ModelRunner(
        model,
        TokenChooser(model.generation_config),
        config=dataclasses.replace(engine.config, decode_mode=DecodeMode.EAGER),
        prefixes=prefixes if prefixes is not None else PrefixStore(0),
        context_window=engine.context_window,
        pad_token_id=0,
        observe=lambda name, value: None,
    )


def prepared_sequence(request: GenerationRequest, prompt: PreparedPrompt) -> Sequence:
    """`request` as the scheduler holds it, its preparation `prompt` done already."""
    prepared: Future[PreparedPrompt] = Future()
    prepared.set_result(prompt)
    return Sequence(
        request, prepared, lambda item: None, max_new_tokens=request.max_new_tokens or 1
    )
