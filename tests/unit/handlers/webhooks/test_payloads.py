from __future__ import annotations

import pytest

from bot.intake.jobs import JobAttachment
from handlers.webhooks.payloads import NotATicket, parse
from handlers.webhooks.signatures import Provider


def test_zendesk_latest_comment_with_attachments() -> None:
    body = {
        "ticket": {
            "id": 42,
            "description": "first",
            "latest_comment": {
                "body": "App crashes on login",
                "attachments": [
                    {
                        "file_name": "err.png",
                        "content_url": "https://acme.zendesk.com/a/err.png",
                        "size": 10,
                    }
                ],
            },
        }
    }
    event = parse(Provider.ZENDESK, body)
    assert (event.ticket_id, event.text) == ("42", "App crashes on login")
    assert event.attachments == (
        JobAttachment("err.png", "https://acme.zendesk.com/a/err.png", 10),
    )


def test_intercom_html_is_read_as_text_and_the_latest_part_wins() -> None:
    body = {
        "topic": "conversation.user.replied",
        "data": {
            "item": {
                "id": "c1",
                "source": {"body": "<p>old</p>"},
                "conversation_parts": {
                    "conversation_parts": [
                        {
                            "body": "<p>Still &amp; again:<br>error 500</p>",
                            "attachments": [
                                {"name": "s.png", "url": "https://downloads.intercomcdn.com/s.png"}
                            ],
                        }
                    ]
                },
            }
        },
    }
    event = parse(Provider.INTERCOM, body)
    assert event.ticket_id == "c1" and "Still & again:" in event.text and "error 500" in event.text
    assert event.attachments[0].name == "s.png"


def test_jira_new_issue_and_comment() -> None:
    issue = {
        "key": "SD-7",
        "fields": {
            "summary": "Deploy fails",
            "description": "exit code 137",
            "attachment": [{"filename": "log.png", "content": "https://j/x"}],
        },
    }
    created = parse(Provider.JIRA, {"webhookEvent": "jira:issue_created", "issue": issue})
    assert (
        created.text == "Deploy fails\n\nexit code 137"
        and created.attachments[0].url == "https://j/x"
    )
    comment = parse(
        Provider.JIRA,
        {"webhookEvent": "comment_created", "issue": issue, "comment": {"body": "still broken"}},
    )
    assert comment.text == "still broken"


@pytest.mark.parametrize(
    ("provider", "body"),
    [
        (Provider.ZENDESK, {"nothing": 1}),
        (Provider.ZENDESK, []),
        (Provider.INTERCOM, {"topic": "conversation.admin.replied", "data": {}}),
        (Provider.JIRA, {"webhookEvent": "jira:issue_deleted"}),
        (Provider.GENERIC, {"text": "no id"}),
    ],
)
def test_other_events_are_not_tickets(provider: Provider, body: object) -> None:
    with pytest.raises(NotATicket):
        parse(provider, body)
