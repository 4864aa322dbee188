from __future__ import annotations

from bot.messages import Message
from handlers.slack.events import (
    attachment_from_file,
    is_person_message,
    is_thread_reply,
    strip_mentions,
)


def test_a_reply_is_a_thread_reply() -> None:
    assert is_thread_reply({"user": "U1", "ts": "2.2", "thread_ts": "1.1", "channel": "C1"})
    assert not is_thread_reply({"ts": "1.1", "thread_ts": "1.1"})


def test_edits_deletions_and_bots_are_not_questions() -> None:
    assert is_person_message({"user": "U1", "text": "hi"})
    assert is_person_message({"user": "U1", "subtype": "file_share"})
    assert not is_person_message({"user": "U1", "subtype": "message_changed"})
    assert not is_person_message({"subtype": "message_deleted"})
    assert not is_person_message({"user": "U1", "bot_id": "B1"})


def test_hidden_files_are_marked_unavailable() -> None:
    hidden = attachment_from_file({"id": "F1", "name": "x.png", "mode": "hidden_by_limit"})
    assert hidden.unavailable is Message.REASON_NOT_SHARED


def test_only_the_bots_own_mention_is_removed() -> None:
    assert strip_mentions("<@UBOT> ask <@U2> about it", "UBOT") == "ask <@U2> about it"
