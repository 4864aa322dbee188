"""The model runner. Importable with only torch, transformers and pillow installed.

Only this package touches the model; everything else calls `Engine.stream()`.
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
