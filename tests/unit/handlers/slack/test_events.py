from __future__ import annotations

from bot.messages import Message
from handlers.slack.events import (
    attachment_from_file,
    is_person_message,
    is_thread_reply,
    strip_mentions,
    turn_from_event,
)


def test_turn_from_a_mention_with_a_file() -> None:
    event = {
        "type": "app_mention",
        "user": "U1",
        "text": "<@UBOT> what does this mean?",
        "ts": "1.1",
        "channel": "C1",
        "files": [
            {
                "id": "F1",
                "name": "err.png",
                "mimetype": "image/png",
                "size": 10,
                "url_private_download": "https://files.slack.com/F1/err.png",
            }
        ],
    }
    turn = turn_from_event(event, team_id="T1", bot_user_id="UBOT")
    assert turn.text == "what does this mean?"
    assert (turn.thread.channel, turn.thread.thread_ts, turn.message_ts) == ("C1", "1.1", "1.1")
    [attachment] = turn.attachments
    assert attachment.url == "https://files.slack.com/F1/err.png" and attachment.unavailable is None


def test_reply_goes_to_the_existing_thread() -> None:
    event = {
        "user": "U1",
        "text": "still failing",
        "ts": "2.2",
        "thread_ts": "1.1",
        "channel": "C1",
    }
    assert turn_from_event(event, team_id="T1", bot_user_id="UBOT").thread.thread_ts == "1.1"
    assert is_thread_reply(event)
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
