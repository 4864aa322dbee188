"""The model runner; only this package touches the model, everything else calls `Engine.stream()`.

This package itself imports neither torch nor transformers. The in-process engine
(`transformers_engine.py` and its helpers) needs torch, transformers and pillow (the
`local` extra); the remote one (`remote.py`) needs only `openai` and pillow, so an
`ENGINE=remote` replica runs without torch.
"""

from bot.engine.protocol import CacheBytes, Engine, EngineState
from bot.engine.request import ChatMessage, GenerationRequest, ImagePart, Queued, Role, TextPart

__all__ = [
    "CacheBytes",
    "ChatMessage",
    "Engine",
    "EngineState",
    "GenerationRequest",
    "ImagePart",
    "Queued",
    "Role",
    "TextPart",
]
