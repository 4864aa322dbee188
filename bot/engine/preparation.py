"""Request preparation: the prompt rendered, tokenised and its images made patches.

CPU work that runs on the engine's preparation pool, beside the model's
thread: the processor's own chat template, image decoding and resizing, the
image processor, and the multimodal rope positions. Also the prompt's token
count the conversation core budgets prompts with (images by `image_tokens`).
"""

from __future__ import annotations

from typing import Any

import torch

from bot.engine.image_tokens import rule_from_processor
from bot.engine.images import decode_for_model
from bot.engine.prepared import PreparedPrompt, image_digest
from bot.engine.request import ChatMessage, GenerationRequest, ImagePart, TextPart


class PromptPreparer:
    """Turns a `GenerationRequest` into the `PreparedPrompt` the runner prefills."""

    def __init__(self, model: Any, processor: Any, *, max_image_pixels: int) -> None:
        self._model = model
        self._processor = processor
        self._rule = rule_from_processor(
            processor.image_processor, max_image_pixels, source="the engine's image processor"
        )

    def render(self, request: GenerationRequest) -> str:
        """The prompt text, formatted by the processor's own chat template."""
        return str(
            self._processor.apply_chat_template(
                [_as_template_message(message) for message in request.messages],
                tokenize=False,
                add_generation_prompt=True,
            )
        )

    def count_tokens(self, request: GenerationRequest) -> int:
        """Prompt tokens of `request` as the model will see them, image tokens included."""
        text_tokens = len(self._processor.tokenizer(self.render(request))["input_ids"])
        # The rendered prompt holds one <|image_pad|> per image; the processor expands each.
        return text_tokens + sum(self.image_tokens(image) - 1 for image in request.images)

    def image_tokens(self, image: ImagePart) -> int:
        """Tokens the model sees for `image` once resized to the pixel cap."""
        return self._rule.image_tokens(image)

    def prepare(self, request: GenerationRequest) -> PreparedPrompt:
        """Token ids, image patches and positions of `request` (CPU work, any thread)."""
        images = [decode_for_model(image.data) for image in request.images]
        # The processor resizes by the same rule that counts the image tokens.
        size = dict(self._processor.image_processor.size)
        size["shortest_edge"], size["longest_edge"] = self._rule.min_pixels, self._rule.max_pixels
        inputs = self._processor(
            text=[self.render(request)], images=images or None, size=size, return_tensors="pt"
        )
        input_ids = inputs["input_ids"]
        kinds = inputs.get("mm_token_type_ids")
        kinds = torch.zeros_like(input_ids) if kinds is None else kinds
        text = torch.arange(input_ids.shape[1]).unsqueeze(0)
        if images:
            rope, delta = self._model.model.get_rope_index(
                input_ids, mm_token_type_ids=kinds, image_grid_thw=inputs["image_grid_thw"]
            )
            positions, rope_delta = torch.cat([text, rope[:, 0, :]]), int(delta.reshape(-1)[0])
        else:
            positions, rope_delta = text.expand(4, -1), 0
        return PreparedPrompt(
            token_ids=tuple(int(token) for token in input_ids[0].tolist()),
            positions=positions.clone(),
            rope_delta=rope_delta,
            mm_token_type_ids=kinds[0],
            pixel_values=inputs.get("pixel_values"),
            image_grid_thw=inputs.get("image_grid_thw"),
            image_digests=tuple(image_digest(image.data) for image in request.images),
        )


def _as_template_message(message: ChatMessage) -> dict[str, Any]:
    content: list[dict[str, str]] = []
    for part in message.parts:
        if isinstance(part, TextPart):
            content.append({"type": "text", "text": part.text})
        elif isinstance(part, ImagePart):
            content.append({"type": "image"})
    return {"role": message.role.value, "content": content}
