from __future__ import annotations

from pathlib import Path

import pytest

from bot.conversation.channel_policy import AnswerMode, ChannelPolicy
from bot.errors import ConfigError
from bot.messages import Language

POLICY = """
[defaults]
mode = "mention"
language = "auto"
direct_messages = true
allowed_channels = ["CSUP", "CMEN", "CZH"]

[channels.CSUP]
mode = "support"
allowed_users = ["U1"]

[channels.CZH]
language = "zh"
"""


def _policy(tmp_path: Path, text: str = POLICY) -> ChannelPolicy:
    path = tmp_path / "channels.toml"
    path.write_text(text)
    return ChannelPolicy.from_file(path)


def test_modes_allowlists_and_languages(tmp_path: Path) -> None:
    policy = _policy(tmp_path)
    assert policy.answers_new_message("CSUP", "U1")
    assert not policy.answers_new_message("CSUP", "U2"), "user not on the channel's allowlist"
    assert not policy.answers_new_message("CMEN", "U1") and policy.answers_mention("CMEN", "U1")
    assert policy.rules_for("COTHER").mode is AnswerMode.OFF, "not an allowed channel"
    assert not policy.answers_mention("COTHER", "U1")
    assert policy.rules_for("CZH").language is Language.CHINESE
    assert policy.rules_for("CZH").mode is AnswerMode.MENTION, "inherits the default mode"
    assert policy.rules_for("CMEN").language is None
    assert policy.answers_direct_message("U9")


def test_without_a_file_the_bot_answers_mentions_and_dms() -> None:
    policy = ChannelPolicy()
    assert policy.answers_mention("CANY", "U1") and policy.answers_direct_message("U1")
    assert not policy.answers_new_message("CANY", "U1")


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[defaults]\nmode = "sometimes"\n', "defaults.mode"),
        ('[channels.C1]\nlanguage = "fr"\n', "channels.C1.language"),
        ("[defaults]\nunknown = 1\n", "defaults.unknown"),
        ("[defaults\n", "CHANNEL_CONFIG"),
    ],
)
def test_a_bad_file_stops_start_up_naming_the_key(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named.replace(".", r"\.")):
        _policy(tmp_path, text)
