"""The model runner. Importable with only torch, transformers and pillow installed.

Only this package touches the model; everything else calls `Engine.stream()`.
"""

from bot.engine.protocol import Engine, EngineState
from bot.engine.request import ChatMessage, GenerationRequest, ImagePart, Queued, Role, TextPart

__all__ = [
    "ChatMessage",
    "Engine",
    "EngineState",
    "GenerationRequest",
    "ImagePart",
    "Queued",
    "Role",
    "TextPart",
]
