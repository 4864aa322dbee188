from __future__ import annotations

from bot.messages import Language, Message, detect_language, say


def test_every_message_exists_in_every_language() -> None:
    for message in Message:
        for language in Language:
            assert say(
                message,
                language,
                limit_mb=1,
                filename="f",
                reason="r",
                detail="d",
                reference="x",
                limit=1,
                pixels=1,
            )


def test_language_follows_the_user() -> None:
    assert detect_language("what does this mean?") is Language.ENGLISH
    assert detect_language("这个错误是什么意思") is Language.CHINESE
    assert say(Message.WORKING_ON_SCREENSHOT, Language.CHINESE) == "正在查看你的截图…"
