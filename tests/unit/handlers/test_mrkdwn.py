from __future__ import annotations

from handlers.mrkdwn import markdown_to_mrkdwn


def test_markdown_becomes_mrkdwn() -> None:
    assert (
        markdown_to_mrkdwn("## Cause\n**Bold** and [docs](https://x.io/a)")
        == "*Cause*\n*Bold* and <https://x.io/a|docs>"
    )
    assert markdown_to_mrkdwn("- first\n- second") == "• first\n• second"


def test_code_is_left_alone_but_escaped() -> None:
    text = "Run `a **b** < c`:\n```bash\necho **x** > /tmp/y\n```"
    assert markdown_to_mrkdwn(text) == "Run `a **b** &lt; c`:\n```\necho **x** &gt; /tmp/y\n```"


def test_slack_control_characters_are_escaped() -> None:
    assert markdown_to_mrkdwn("x < y & <!channel>") == "x &lt; y &amp; &lt;!channel&gt;"
