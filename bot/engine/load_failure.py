"""Why a model did not load, in one line, and whether trying again can help.

transformers wraps what went wrong in an `OSError` whose `__cause__` is the
huggingface_hub error (`RepositoryNotFoundError`, `GatedRepoError`,
`LocalEntryNotFoundError`, `HFValidationError`, `HfHubHTTPError`), as its
`cached_files` does; we read the chain and say what the operator can do.
What can heal (the Hub unreachable, a 5xx or 429) is retried by the caller;
what cannot (no such directory, no such repo, a gated repo without access,
no CUDA device, too little memory) stops start-up, as vLLM does.

This module imports no torch, so the CLI and `doctor` can use it cheaply.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import constants as hub_constants
from huggingface_hub.errors import (
    EntryNotFoundError,
    GatedRepoError,
    HfHubHTTPError,
    HFValidationError,
    LocalEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from bot.errors import first_line

# https://huggingface.co/docs/transformers/installation#offline-mode
_OFFLINE_HELP = (
    "set HF_HUB_OFFLINE=1 with the model in the cache (HF_HOME), or MODEL=/path/to/checkpoint"
)


@dataclass(frozen=True)
class LoadFailure:
    """One line naming the model, the cause and the fix; `retryable` when waiting can help."""

    reason: str
    retryable: bool


class LoadRefused(Exception):
    """Loading is hopeless, found before trying (no such directory, no GPU, too little memory).

    It never leaves the engine: `start()` turns it into the FAILED state and its reason.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def local_path(model: str) -> Path:
    """`model` as a path, `~` expanded where there is such a home (`~nobody` stays as is)."""
    try:
        return Path(model).expanduser()
    except RuntimeError:  # "~user" for a user this machine does not know
        return Path(model)


def looks_like_a_path(model: str) -> bool:
    """True when `MODEL` is meant as a directory: absolute, `./`, `~`, or deeper than org/name."""
    return (
        model.startswith(("/", "./", "../", "~", "\\"))
        or os.path.isabs(model)
        or model.count("/") > 1
        or local_path(model).exists()
    )


def source_problem(model: str) -> str | None:
    """Why `model` cannot be a checkpoint before anything is downloaded; None if it may be."""
    if not looks_like_a_path(model):
        return None
    directory = local_path(model)
    if not directory.exists():
        return (
            f"MODEL={model}: the directory {directory} does not exist; set MODEL to a "
            "checkpoint directory or a Hugging Face id such as Qwen/Qwen3-VL-8B-Instruct"
        )
    if not directory.is_dir():
        return f"MODEL={model}: {directory} is a file; MODEL must be a checkpoint directory"
    if not (directory / "config.json").is_file():
        return (
            f"MODEL={model}: {directory} has no config.json, so it is not a Hugging Face "
            "checkpoint (save one with save_pretrained, or download with `hf download`)"
        )
    return None


def hub_is_offline() -> bool:
    """Whether huggingface_hub was started with `HF_HUB_OFFLINE=1` (it reads it once)."""
    return bool(hub_constants.HF_HUB_OFFLINE)


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _is_transport_error(error: BaseException) -> bool:
    # The connection broke or timed out: builtins, and httpx's (and httpx2's, which
    # huggingface_hub uses) TransportError and TimeoutException, named alike in both.
    if isinstance(error, ConnectionError | TimeoutError):
        return True
    names = {cls.__name__ for cls in type(error).__mro__}
    return bool(names & {"TransportError", "TimeoutException", "ConnectionError"})


def _is_out_of_memory(error: BaseException) -> bool:
    # torch.OutOfMemoryError (CUDA), MemoryError (host), and accelerate's own wording.
    return isinstance(error, MemoryError) or type(error).__name__ == "OutOfMemoryError"


def explain(error: BaseException, *, model: str, offline: bool | None = None) -> LoadFailure:
    """What `error`, raised while loading `model`, means for the operator.

    Example:
        >>> explain(OSError("Repo id must be in the form…"), model="/no/such/dir").reason
        'MODEL=/no/such/dir: the directory /no/such/dir does not exist; …'
    """
    if offline is None:
        offline = hub_is_offline()
    if isinstance(error, LoadRefused):
        return LoadFailure(error.reason, retryable=False)
    if problem := source_problem(model):
        return LoadFailure(problem, retryable=False)
    hub_page = f"https://huggingface.co/{model}"
    for cause in _chain(error):
        if isinstance(cause, GatedRepoError):
            return LoadFailure(
                f"MODEL={model} is a gated model: accept its terms at {hub_page} "
                "and set HF_TOKEN to a token of that account",
                retryable=False,
            )
        if isinstance(cause, RepositoryNotFoundError):
            return LoadFailure(
                f"MODEL={model} is neither a local directory nor a model on the Hugging Face "
                "Hub (a private model needs HF_TOKEN)",
                retryable=False,
            )
        if isinstance(cause, RevisionNotFoundError):
            return LoadFailure(
                f"MODEL={model}: the revision asked for does not exist ({hub_page})",
                retryable=False,
            )
        if isinstance(cause, HFValidationError):
            return LoadFailure(
                f"MODEL={model} is neither an existing directory nor a Hugging Face id "
                "such as Qwen/Qwen3-VL-8B-Instruct",
                retryable=False,
            )
        if isinstance(cause, LocalEntryNotFoundError):
            if offline:
                return LoadFailure(
                    f"MODEL={model} is not in the Hugging Face cache "
                    f"({hub_constants.HF_HUB_CACHE}) and HF_HUB_OFFLINE=1 forbids downloading it: "
                    f"run `hf download {model}` where there is network, or set MODEL to a "
                    "checkpoint directory",
                    retryable=False,
                )
            return LoadFailure(
                f"MODEL={model} is not in the cache and the Hugging Face Hub "
                f"({hub_constants.ENDPOINT}) could not be reached; to run without it, "
                + _OFFLINE_HELP,
                retryable=True,
            )
        if isinstance(cause, HfHubHTTPError):
            status = cause.response.status_code if cause.response is not None else 0
            if status in (401, 403):
                return LoadFailure(
                    f"MODEL={model}: the Hugging Face Hub refused access ({status}); "
                    "check HF_TOKEN",
                    retryable=False,
                )
            if status == 429 or status >= 500 or status == 0:
                return LoadFailure(
                    f"MODEL={model}: the Hugging Face Hub answered {status or 'nothing'} "
                    f"while downloading; to run without it, {_OFFLINE_HELP}",
                    retryable=True,
                )
        if isinstance(cause, EntryNotFoundError):
            return LoadFailure(
                f"MODEL={model} lacks a file a checkpoint needs ({first_line(cause)})",
                retryable=False,
            )
        if _is_out_of_memory(cause):
            return LoadFailure(
                f"MODEL={model} does not fit in memory ({first_line(cause)}); use a device "
                "with more memory, DTYPE=bfloat16, or a smaller model",
                retryable=False,
            )
        if _is_transport_error(cause):
            return LoadFailure(
                f"MODEL={model} could not be downloaded: the Hugging Face Hub "
                f"({hub_constants.ENDPOINT}) did not answer ({first_line(cause)}); "
                f"to run without it, {_OFFLINE_HELP}",
                retryable=True,
            )
    return LoadFailure(f"MODEL={model} failed to load: {first_line(error)}", retryable=False)
