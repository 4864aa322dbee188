"""Make the real model take a while per forward pass, as a busy GPU would."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def slowed(model: Any, seconds_per_pass: float) -> Iterator[None]:
    """Every forward pass of `model` (prefill or decode step) takes at least this long.

    A prefill (and each of its chunks) runs the text decoder; a decode step
    over fused weights runs only the output head, so the head waits when no
    text decoder pass came before it.
    """
    decoder_ran = False

    def decoder_pass(module: Any, args: Any) -> None:
        nonlocal decoder_ran
        decoder_ran = True
        time.sleep(seconds_per_pass)

    def head_pass(module: Any, args: Any) -> None:
        nonlocal decoder_ran
        if not decoder_ran:
            time.sleep(seconds_per_pass)
        decoder_ran = False

    hooks = [
        model.get_decoder().register_forward_pre_hook(decoder_pass),
        model.get_output_embeddings().register_forward_pre_hook(head_pass),
    ]
    try:
        yield
    finally:
        for hook in hooks:
            hook.remove()
