"""MODEL=auto's choice and the fit check, against descriptions of machines as data.

Free memory of each card: its memory less about 0.6 GiB that the driver and the
CUDA context hold before a model loads; the CPU rows are MemAvailable of a 2-core
CI box (21.4 GiB, measured) and of a small VM.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.engine.model_choice import (
    QWEN3_VL_INSTRUCT,
    Hardware,
    choose,
    fit_refusal,
    published,
    published_need,
)

GIB = 2**30
BF16, FP32 = 2, 4

MACHINES = [
    # (description, hardware, bytes per parameter, expected model)
    ("H100 80 GB", Hardware("cuda", int(79.1 * GIB), "NVIDIA H100"), BF16, "8B"),
    ("RTX 4090 24 GB", Hardware("cuda", int(23.4 * GIB), "RTX 4090"), BF16, "8B"),
    ("L4 / A10G 24 GB", Hardware("cuda", int(21.9 * GIB), "NVIDIA L4"), BF16, "8B"),
    ("T4 16 GB", Hardware("cuda", int(14.6 * GIB), "Tesla T4"), BF16, "4B"),
    ("RTX 4080 16 GB", Hardware("cuda", int(15.4 * GIB), "RTX 4080"), BF16, "4B"),
    ("RTX 3060 12 GB", Hardware("cuda", int(11.4 * GIB), "RTX 3060"), BF16, "4B"),
    ("RTX 3070 8 GB", Hardware("cuda", int(7.4 * GIB), "RTX 3070"), BF16, "2B"),
    ("CI box, CPU", Hardware("cpu", int(21.4 * GIB)), FP32, "2B"),
    ("a 64 GB workstation, CPU", Hardware("cpu", 60 * GIB), FP32, "2B"),
]


@pytest.mark.parametrize(
    ("hardware", "per_parameter", "size"),
    [row[1:] for row in MACHINES],
    ids=[row[0] for row in MACHINES],
)
def test_auto_takes_the_largest_model_that_fits_the_machine(
    hardware: Hardware, per_parameter: int, size: str
) -> None:
    choice = choose(hardware, bytes_per_parameter=per_parameter)
    assert choice is not None
    assert choice.model_id == f"Qwen/Qwen3-VL-{size}-Instruct"
    assert choice.need.total_bytes <= hardware.free_bytes
    # The log line carries the numbers behind the choice.
    assert hardware.device in choice.reason and "GiB free" in choice.reason


def test_nothing_fits_a_tiny_machine() -> None:
    assert choose(Hardware("cuda", 4 * GIB), bytes_per_parameter=BF16) is None
    assert choose(Hardware("cpu", 6 * GIB), bytes_per_parameter=FP32) is None


def test_a_model_that_does_not_fit_is_refused_in_one_line_naming_one_that_does() -> None:
    card = Hardware("cuda", int(14.6 * GIB), "Tesla T4")
    eight = published("Qwen/Qwen3-VL-8B-Instruct")
    assert eight is not None
    refusal = fit_refusal(published_need(eight, BF16), card, bytes_per_parameter=BF16)
    assert refusal is not None and "\n" not in refusal
    assert refusal.startswith("MODEL=Qwen/Qwen3-VL-8B-Instruct needs about 18.5 GiB")
    assert "cuda (Tesla T4) has 14.6 GiB free" in refusal
    assert refusal.endswith("MODEL=Qwen/Qwen3-VL-4B-Instruct fits (or MODEL=auto)")


def test_a_model_that_fits_is_not_refused() -> None:
    four = published("Qwen/Qwen3-VL-4B-Instruct")
    assert four is not None
    card = Hardware("cuda", int(14.6 * GIB))
    assert fit_refusal(published_need(four, BF16), card, bytes_per_parameter=BF16) is None


def test_the_published_sizes_are_the_cards_rounded_figures() -> None:
    # The model cards show "9B", "4B" and "2B params" (safetensors), in 16 bits on the Hub:
    # about 17.5 GB, 8.9 GB and 4.3 GB to download.
    rounded = {m.model_id: round(m.parameters / 1e9) for m in QWEN3_VL_INSTRUCT}
    assert rounded == {
        "Qwen/Qwen3-VL-8B-Instruct": 9,
        "Qwen/Qwen3-VL-4B-Instruct": 4,
        "Qwen/Qwen3-VL-2B-Instruct": 2,
    }


@given(free=st.integers(min_value=0, max_value=200 * GIB), gpu=st.booleans())
def test_whatever_auto_chooses_passes_the_fit_check(free: int, gpu: bool) -> None:
    hardware = Hardware("cuda" if gpu else "cpu", free)
    per_parameter = BF16 if gpu else FP32
    choice = choose(hardware, bytes_per_parameter=per_parameter)
    if choice is None:
        return
    assert fit_refusal(choice.need, hardware, bytes_per_parameter=per_parameter) is None
    # ... and nothing larger would have fitted with room for a batch, on a GPU.
    if gpu:
        larger = QWEN3_VL_INSTRUCT[: [m.model_id for m in QWEN3_VL_INSTRUCT].index(choice.model_id)]
        assert all(published_need(m, per_parameter).total_bytes > free for m in larger)
