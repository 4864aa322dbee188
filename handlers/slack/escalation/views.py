"""Block Kit for the escalation channel: the desk post's buttons and the resolution modal."""

from __future__ import annotations

import json
from typing import Any

from bot.conversation.turns import ThreadKey
from bot.messages import Message, say
from handlers.slack.blocks import button

TAKE_ACTION = "escalation:take"
RESOLVE_ACTION = "escalation:resolve"
RESOLVE_VIEW = "escalation:resolution"


def thread_value(thread: ThreadKey) -> str:
    """The thread a button or modal is about, as its value (Slack hands it back as is)."""
    return json.dumps([thread.place, thread.space, thread.thread_id])


def thread_from_value(value: str) -> ThreadKey:
    """The thread `thread_value` wrote."""
    workspace, channel, thread_ts = json.loads(value)
    return ThreadKey.for_slack(workspace, channel, thread_ts)


def desk_actions(thread: ThreadKey, *, take: bool = True) -> dict[str, Any]:
    buttons = []
    if take:
        buttons.append(button(TAKE_ACTION, say(Message.DESK_TAKE), thread_value(thread), "primary"))
    buttons.append(button(RESOLVE_ACTION, say(Message.DESK_RESOLVE), thread_value(thread)))
    return {"type": "actions", "block_id": "escalation", "elements": buttons}


def resolution_modal(thread: ThreadKey) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": RESOLVE_VIEW,
        "private_metadata": thread_value(thread),
        "title": {"type": "plain_text", "text": say(Message.RESOLVE_MODAL_TITLE)},
        "submit": {"type": "plain_text", "text": say(Message.RESOLVE_MODAL_SUBMIT)},
        "blocks": [
            {
                "type": "input",
                "block_id": "resolution",
                "label": {"type": "plain_text", "text": say(Message.RESOLVE_MODAL_LABEL)},
                "element": {"type": "plain_text_input", "action_id": "text", "max_length": 500},
            }
        ],
    }
