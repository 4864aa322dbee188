from __future__ import annotations

from bot.messages import Language, Message, detect_language, language_of_locale, ordinal, say


def test_every_message_exists_in_every_language() -> None:
    values = {
        "limit_mb": 1,
        "filename": "f",
        "reason": "r",
        "detail": "d",
        "reference": "x",
        "limit": 1,
        "pixels": 1,
        "width": 1,
        "height": 300,
        "kept": 10,
        "total": 40,
        "working": "w",
        "place": "2nd",
        "number": 2,
        "seconds": 5,
        "group": "",
        "channel": "C1",
        "link": "https://x",
        "agent": "U2",
        "resolution": "r",
        "count": 1,
        "dates": "2026-11-01",
        "ticket": "9001",
        "user": "U1",
        "percent": 45,
        "lines": "5,000",
    }
    for message in Message:
        for language in Language:
            assert say(message, language, **values)


def test_ordinals_and_locales() -> None:
    assert [ordinal(n, Language.ENGLISH) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22)] == [
        "1st",
        "2nd",
        "3rd",
        "4th",
        "11th",
        "12th",
        "13th",
        "21st",
        "22nd",
    ]
    assert language_of_locale("zh-CN") is Language.CHINESE
    assert language_of_locale("en-GB") is Language.ENGLISH
    assert language_of_locale("fr-FR") is None and language_of_locale(None) is None


def test_language_follows_the_user() -> None:
    assert detect_language("what does this mean?") is Language.ENGLISH
    assert detect_language("这个错误是什么意思") is Language.CHINESE
    assert say(Message.WORKING_ON_SCREENSHOT, Language.CHINESE) == "正在查看你的截图…"
