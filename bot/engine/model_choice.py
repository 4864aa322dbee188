"""Which Qwen3-VL model fits this machine, decided from published sizes before any download.

`MODEL=auto` (the default) takes the largest Qwen3-VL Instruct model whose weights
and room for a batch fit in the device's free memory: 8B on a GPU with about 19 GiB
free, 4B on a 12-16 GB card, 2B on smaller cards and on a CPU (where 4B and 8B
cost 2-4 times its arithmetic per token, on cores far slower than a GPU's).
Every model, chosen or named, is checked against the free memory before its
download starts (`fit_refusal`), and a refusal names one that fits.

Pure arithmetic over data: the hardware is described by the caller (`Hardware`),
so the choice is tested against descriptions of real machines without them.
"""

from __future__ import annotations

from dataclasses import dataclass

AUTO = "auto"
_GIB = 2**30


@dataclass(frozen=True)
class PublishedModel:
    """A model's size as published: its parameter count and what a token's cache takes."""

    model_id: str
    parameters: int
    # Key and value caches of one token in 16 bits: layers x KV heads x head_dim x 2 x 2 B.
    cache_bytes_per_token: int

    def weights_bytes(self, bytes_per_parameter: int) -> int:
        return self.parameters * bytes_per_parameter


# Largest first. Parameter counts of each checkpoint's safetensors, as its model card's
# "Model size" shows them rounded (9B, 4B, 2B), counted exactly by building each
# published config.json on the meta device:
#   https://huggingface.co/Qwen/Qwen3-VL-8B-Instruct  (36 layers, 8 KV heads, head_dim 128)
#   https://huggingface.co/Qwen/Qwen3-VL-4B-Instruct  (36 layers, 8 KV heads, head_dim 128)
#   https://huggingface.co/Qwen/Qwen3-VL-2B-Instruct  (28 layers, 8 KV heads, head_dim 128)
QWEN3_VL_INSTRUCT = (
    PublishedModel("Qwen/Qwen3-VL-8B-Instruct", 8_767_123_696, 36 * 8 * 128 * 2 * 2),
    PublishedModel("Qwen/Qwen3-VL-4B-Instruct", 4_437_815_808, 36 * 8 * 128 * 2 * 2),
    PublishedModel("Qwen/Qwen3-VL-2B-Instruct", 2_127_532_032, 28 * 8 * 128 * 2 * 2),
)
_SMALLEST = QWEN3_VL_INSTRUCT[-1]
_PUBLISHED = {model.model_id: model for model in QWEN3_VL_INSTRUCT}

# "Room for a batch": caches for this many tokens (two answers with 4k-token prompts, or
# one long thread) and a fixed reserve for activations, the CUDA context and allocator slack.
BATCH_TOKENS = 8192
RESERVE_BYTES = 1 * _GIB


@dataclass(frozen=True)
class Hardware:
    """What the model would run on: the resolved device and its free memory."""

    device: str  # "cpu", "cuda", "cuda:1"
    free_bytes: int
    name: str = ""  # the GPU's name, for the log

    @property
    def is_gpu(self) -> bool:
        return self.device.startswith("cuda")


@dataclass(frozen=True)
class Need:
    """Memory a model needs on a device: its weights, plus room for a batch."""

    model_id: str
    weights_bytes: int
    total_bytes: int


def published(model_id: str) -> PublishedModel | None:
    """The table's entry for `model_id`, when it is one of the Qwen3-VL Instruct models."""
    return _PUBLISHED.get(model_id)


def need(
    model_id: str,
    *,
    weights_bytes: int,
    bytes_per_parameter: int,
    cache_bytes_per_token: int | None = None,
) -> Need:
    """Weights plus room for a batch; a model outside the table is given the 8B's cache."""
    per_token = cache_bytes_per_token or QWEN3_VL_INSTRUCT[0].cache_bytes_per_token
    # The caches are kept in the model's dtype: float32 on a CPU doubles them.
    batch = BATCH_TOKENS * per_token * bytes_per_parameter // 2
    return Need(model_id, weights_bytes, weights_bytes + batch + RESERVE_BYTES)


def published_need(model: PublishedModel, bytes_per_parameter: int) -> Need:
    return need(
        model.model_id,
        weights_bytes=model.weights_bytes(bytes_per_parameter),
        bytes_per_parameter=bytes_per_parameter,
        cache_bytes_per_token=model.cache_bytes_per_token,
    )


@dataclass(frozen=True)
class Choice:
    """The model `MODEL=auto` picked, and the numbers behind it, for the log and the doctor."""

    model_id: str
    need: Need
    hardware: Hardware
    reason: str


def gib(size: int) -> str:
    return f"{size / _GIB:.1f} GiB"


def _where(hardware: Hardware) -> str:
    named = f" ({hardware.name})" if hardware.name else ""
    return f"{hardware.device}{named} with {gib(hardware.free_bytes)} free"


def _has(hardware: Hardware) -> str:
    named = f" ({hardware.name})" if hardware.name else ""
    return f"{hardware.device}{named} has {gib(hardware.free_bytes)} free"


def choose(hardware: Hardware, *, bytes_per_parameter: int) -> Choice | None:
    """The largest Qwen3-VL Instruct model that fits `hardware`; None when none does.

    On a CPU only the smallest is a candidate: larger ones fit a big machine's RAM
    but cost 2-4 times the arithmetic per token.
    """
    candidates = QWEN3_VL_INSTRUCT if hardware.is_gpu else (_SMALLEST,)
    for model in candidates:
        needed = published_need(model, bytes_per_parameter)
        if needed.total_bytes <= hardware.free_bytes:
            if not hardware.is_gpu:
                why = "on a CPU only the smallest: 4B and 8B cost 2-4x its arithmetic a token"
            elif model is QWEN3_VL_INSTRUCT[0]:
                why = "the largest, and it fits"
            else:
                why = "the largest that fits; a larger one would not leave room for a batch"
            reason = (
                f"MODEL=auto chose {model.model_id}: {_where(hardware)}, it needs about "
                f"{gib(needed.total_bytes)} (weights {gib(needed.weights_bytes)} and a batch); "
                f"{why}"
            )
            return Choice(model.model_id, needed, hardware, reason)
    return None


def fitting_model(hardware: Hardware, *, bytes_per_parameter: int) -> str | None:
    """The model to suggest in a refusal: the one `MODEL=auto` would choose."""
    choice = choose(hardware, bytes_per_parameter=bytes_per_parameter)
    return choice.model_id if choice else None


def fit_refusal(needed: Need, hardware: Hardware, *, bytes_per_parameter: int) -> str | None:
    """One line saying `needed` does not fit `hardware`, naming a model that does; else None."""
    if needed.total_bytes <= hardware.free_bytes:
        return None
    instead = fitting_model(hardware, bytes_per_parameter=bytes_per_parameter)
    fix = (
        f"MODEL={instead} fits (or MODEL=auto)"
        if instead and instead != needed.model_id
        else "no Qwen3-VL model fits here: use a GPU, free memory, or ENGINE=remote"
    )
    return (
        f"MODEL={needed.model_id} needs about {gib(needed.total_bytes)} (weights "
        f"{gib(needed.weights_bytes)} and room for a batch) but {_has(hardware)}; {fix}"
    )


def none_fits(hardware: Hardware, *, bytes_per_parameter: int) -> str:
    """The line for `MODEL=auto` when not even the smallest model fits."""
    smallest = published_need(_SMALLEST, bytes_per_parameter)
    return (
        f"MODEL=auto: not even {_SMALLEST.model_id} fits ({gib(smallest.total_bytes)} "
        f"needed, {_has(hardware)}); free memory, use a GPU, or ENGINE=remote"
    )
