"""Differences between the transformers releases the engine supports (see pyproject.toml).

transformers 5.17 takes a model's key/value cache as `past_key_values`; later
releases renamed it `cache` (the old name is deprecated, to go in 5.40). The
engine passes it under whichever name the installed model's `forward` declares.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any


def cache_argument(forward: Callable[..., Any]) -> str:
    """The keyword under which `forward` takes its key/value cache."""
    parameters = inspect.signature(forward).parameters
    return "cache" if "cache" in parameters else "past_key_values"
