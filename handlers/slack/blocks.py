"""Block Kit pieces: the answer with its feedback (and escalation) buttons."""

from __future__ import annotations

from typing import Any

from bot.conversation.feedback import Verdict
from bot.messages import Language, Message, say

FEEDBACK_ACTION_PREFIX = "feedback:"
ESCALATE_ACTION = "escalate"


def feedback_actions(
    thread_ts: str, language: Language, *, escalation: bool = False
) -> dict[str, Any]:
    """Solved and Not helpful buttons (and Get a human when escalation is on).

    Each button's value is the thread it is about.
    """
    elements = [
        button(
            FEEDBACK_ACTION_PREFIX + Verdict.SOLVED.value,
            say(Message.FEEDBACK_SOLVED, language),
            thread_ts,
            "primary",
        ),
        button(
            FEEDBACK_ACTION_PREFIX + Verdict.NOT_HELPFUL.value,
            say(Message.FEEDBACK_NOT_HELPFUL, language),
            thread_ts,
        ),
    ]
    if escalation:
        elements.append(button(ESCALATE_ACTION, say(Message.GET_A_HUMAN, language), thread_ts))
    return {"type": "actions", "block_id": "feedback", "elements": elements}


def answer_blocks(mrkdwn: str, actions: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn}}, actions]


def button(action_id: str, label: str, value: str, style: str | None = None) -> dict[str, Any]:
    """A Block Kit button whose `value` comes back with the action."""
    button: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": label, "emoji": True},
        "value": value,
    }
    if style:
        button["style"] = style
    return button
