"""Block Kit pieces: the answer with its feedback buttons."""

from __future__ import annotations

from typing import Any

from bot.feedback import Verdict
from bot.messages import Language, Message, say

FEEDBACK_ACTION_PREFIX = "feedback:"


def feedback_actions(thread_ts: str, language: Language) -> dict[str, Any]:
    """ "✅ Solved" and "👎 Not helpful" buttons; their value is the thread they judge."""
    return {
        "type": "actions",
        "block_id": "feedback",
        "elements": [
            _button(Verdict.SOLVED, say(Message.FEEDBACK_SOLVED, language), thread_ts, "primary"),
            _button(Verdict.NOT_HELPFUL, say(Message.FEEDBACK_NOT_HELPFUL, language), thread_ts),
        ],
    }


def answer_blocks(mrkdwn: str, actions: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn}}, actions]


def _button(verdict: Verdict, label: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "action_id": FEEDBACK_ACTION_PREFIX + verdict.value,
        "text": {"type": "plain_text", "text": label, "emoji": True},
        "value": value,
    }
    if style:
        button["style"] = style
    return button
