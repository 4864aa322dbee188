"""A tiny Qwen3-VL checkpoint whose greedy answer is fixed text, whatever the prompt.

Built from the tiny checkpoint: each piece of the script becomes one token of
its own; attention and MLP outputs are zeroed, so the hidden state at a
position is its token's embedding; each chain token's embedding is a distinct
unit vector, and the LM head maps that vector to the next piece. The chain
starts at the last token of the generation prompt and ends in `<|im_end|>`.
"""

from __future__ import annotations

from pathlib import Path

import torch
from tokenizers import AddedToken
from transformers import AutoProcessor, Qwen3VLForConditionalGeneration

from tests.support.tiny_checkpoint import build_tiny_checkpoint

# An answer of plain words, for tests about how an answer grows on screen: the tiny random
# model may write a run with no spaces, which the reply filter rightly holds back whole
# (it could be a secret forming), so such an answer would not grow piece by piece.
WORDS_SCRIPT = [
    "The",
    " service",
    " refused",
    " your",
    " connection",
    " because",
    " nothing",
    " listens",
    " on",
    " that",
    " port.",
    " Start",
    " the",
    " server",
    " first,",
    " then",
    " check",
    " firewall",
    " rules",
    " and",
    " try",
    " again.",
]

LEAKY_SCRIPT = [
    "The",
    " error",
    " says",
    " the",
    " database",
    " refused",
    " your",
    " login.",
    " Check",
    " settings.py",
    " where",
    " I",
    " can",
    " see",
    " key",
    " AKIA",
    "IOSFODNN",
    "7EXAMPLE",
    " and",
    " write",
    " to",
    " alice",
    "@example",
    ".com",
    " or",
    " call",
    " +1",
    " 415",
    " 555",
    " 2671.",
    " Then",
    " restart",
    " app",
    " with",
    " sudo",
    " systemctl",
    " now.",
]


def build_scripted_checkpoint(directory: Path, script: list[str] = LEAKY_SCRIPT) -> Path:
    """Write a checkpoint whose greedy output is `"".join(script)`.

    Args:
        directory: where to save it (a tiny checkpoint is built there first).
        script: the answer, one piece per token; pieces must be distinct.
    """
    if len(set(script)) != len(script):
        raise ValueError("script pieces must be distinct: each is one token with one successor")
    build_tiny_checkpoint(directory)
    processor = AutoProcessor.from_pretrained(directory)
    tokenizer = processor.tokenizer
    tokenizer.add_tokens([AddedToken(piece, normalized=False, special=False) for piece in script])
    model = Qwen3VLForConditionalGeneration.from_pretrained(directory, dtype=torch.float32)
    model.resize_token_embeddings(len(tokenizer), mean_resizing=False)

    prompt = processor.apply_chat_template(
        [{"role": "user", "content": [{"type": "text", "text": "?"}]}],
        tokenize=False,
        add_generation_prompt=True,
    )
    start = tokenizer(prompt)["input_ids"][-1]
    chain = [start, *tokenizer.convert_tokens_to_ids(script)]
    successors = [*chain[1:], tokenizer.convert_tokens_to_ids("<|im_end|>")]
    hidden = int(model.config.get_text_config().hidden_size)
    if len(chain) > hidden:
        raise ValueError(f"script longer than the hidden size ({hidden})")

    language_model = model.model.language_model
    with torch.no_grad():
        for layer in language_model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        embeddings = language_model.embed_tokens.weight
        embeddings.zero_()
        model.lm_head.weight.zero_()
        for dimension, (token, successor) in enumerate(zip(chain, successors, strict=True)):
            embeddings[token, dimension] = 1.0
            model.lm_head.weight[successor, dimension] = 1.0
    model.save_pretrained(directory)
    processor.save_pretrained(directory)
    return directory
