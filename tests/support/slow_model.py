"""Make the real model take a while per forward pass, as a busy GPU would."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def slowed(model: Any, seconds_per_pass: float) -> Iterator[None]:
    """Every forward pass of `model` (prefill or decode step) takes at least this long.

    The hook sits on the text decoder, which both a prefill and a decode step run.
    """
    hook = model.get_decoder().register_forward_pre_hook(
        lambda module, args: time.sleep(seconds_per_pass)
    )
    try:
        yield
    finally:
        hook.remove()
