"""A tiny LoRA adapter, saved with PEFT and merged at load through the engine's own path."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForImageTextToText

from bot.engine.transformers_engine import TransformersEngine

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tiny_adapter(tiny_checkpoint: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = AutoModelForImageTextToText.from_pretrained(tiny_checkpoint)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"])
    tuned = get_peft_model(base, config)
    torch.manual_seed(1)
    with torch.no_grad():  # LoRA's B starts at zero; make the adapter actually change something
        for name, weight in tuned.named_parameters():
            if "lora_B" in name:
                weight.normal_(std=0.5)
    directory = tmp_path_factory.mktemp("tiny-lora")
    tuned.save_pretrained(str(directory))
    return directory


def _logits(engine: TransformersEngine) -> torch.Tensor:
    ids = torch.tensor([[5, 6, 7, 8, 9]])
    with torch.inference_mode():
        hidden: torch.Tensor = engine._model.model.language_model(input_ids=ids).last_hidden_state
    return hidden


async def test_the_adapter_is_merged_at_load_and_changes_the_model(
    tiny_checkpoint: Path, tiny_adapter: Path, tiny_engine: TransformersEngine
) -> None:
    tuned = TransformersEngine(str(tiny_checkpoint), device="cpu", lora_adapter=str(tiny_adapter))
    await tuned.start()
    try:
        assert tuned.failure is None
        assert not any("lora" in name for name, _ in tuned._model.named_parameters()), "merged"
        assert not torch.allclose(_logits(tuned), _logits(tiny_engine))
    finally:
        await tuned.close()


async def test_a_missing_adapter_fails_the_load_with_a_reason(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    engine = TransformersEngine(
        str(tiny_checkpoint), device="cpu", lora_adapter=str(tmp_path / "nope")
    )
    await engine.start()
    assert engine.failure is not None
    await engine.close()
