from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.intake.jobs import JobAttachment
from bot.messages import Message
from handlers.helpdesks.registry import REGISTRY
from handlers.webhooks.ids import BadTicketId
from handlers.webhooks.payloads import NotATicket, UnreadableTicket
from tests.support.fake_helpdesk import render_placeholders

NO_LINK = Message.REASON_NO_LINK.value
TRIGGER = Path(__file__).resolve().parents[4] / "deploy" / "zendesk"


def test_zendesk_api_shaped_comment_with_attachments() -> None:
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
    event = REGISTRY.parse("zendesk", body)
    assert (event.ticket_id, event.text) == ("42", "App crashes on login")
    assert event.attachments == (
        JobAttachment("err.png", "https://acme.zendesk.com/a/err.png", 10),
    )


def _shipped_body(context: dict[str, Any]) -> Any:
    return json.loads(render_placeholders((TRIGGER / "trigger-body.json").read_text(), context))


def test_the_shipped_zendesk_trigger_body_is_read_as_zendesk_renders_it() -> None:
    body = _shipped_body(
        {
            "ticket.id": 501,
            "current_user.id": 555,
            "ticket.latest_comment.id": 9,
            "ticket.latest_comment.author.id": 555,
            "ticket.latest_comment.is_public": "true",
            "ticket.latest_comment.value": 'He said "it broke"\nagain',
            "ticket.latest_comment.attachments": [
                {
                    "attachment.filename": "a.png",
                    "attachment.url": "https://z/attachments/token/1/",
                },
                {
                    "attachment.filename": "b.png",
                    "attachment.url": "https://z/attachments/token/2/",
                },
            ],
        }
    )
    event = REGISTRY.parse("zendesk", body)
    assert (event.ticket_id, event.actor_id, event.comment_id) == ("501", "555", "9")
    assert event.text == 'He said "it broke"\nagain'
    assert [a.name for a in event.attachments] == ["a.png", "b.png"]
    assert all(a.unavailable is None for a in event.attachments)


def test_the_shipped_trigger_matches_its_body_file() -> None:
    trigger = json.loads((TRIGGER / "trigger.json").read_text())["trigger"]
    [action] = trigger["actions"]
    assert action["value"][1].strip() == (TRIGGER / "trigger-body.json").read_text().strip()
    conditions = {c["field"]: c["value"] for c in trigger["conditions"]["all"]}
    assert conditions["comment_is_public"] == "true"  # the bot's notes are private


@pytest.mark.parametrize(
    "attachments",
    [
        [{"filename": "a.png", "url": "{{attachment.url}}"}],
        [{"filename": "a.png"}],
        [{"filename": "a.png", "url": "javascript:alert(1)"}],
        "a.png https://z/1",
        [None],
    ],
)
def test_a_zendesk_attachment_without_a_usable_link_is_kept_as_unreadable(
    attachments: object,
) -> None:
    body = {"ticket": {"id": "7", "latest_comment": {"value": "x", "attachments": attachments}}}
    [file] = REGISTRY.parse("zendesk", body).attachments
    assert file.unavailable == NO_LINK and file.url == ""


def test_a_zendesk_comment_added_event() -> None:
    body = {
        "type": "zen:event-type:ticket.comment_added",
        "id": "d4f5",
        "subject": "zen:ticket:5158",
        "detail": {"id": "5158"},
        "event": {
            "comment": {
                "id": 98765,
                "body": "We are investigating",
                "is_public": True,
                "author": {"id": 8447, "is_staff": True, "name": "Agent"},
            }
        },
    }
    event = REGISTRY.parse("zendesk", body)
    assert (event.ticket_id, event.text, event.actor_id, event.comment_id, event.kind) == (
        "5158",
        "We are investigating",
        "8447",
        "98765",
        "comment_event",
    )
    assert event.attachments == ()  # read from the ticket's comments when the job runs


def test_other_zendesk_events_are_not_tickets() -> None:
    body = {"type": "zen:event-type:ticket.status_changed", "detail": {"id": "1"}, "event": {}}
    with pytest.raises(NotATicket):
        REGISTRY.parse("zendesk", body)


def test_intercom_html_is_read_as_text_and_the_latest_customer_part_wins() -> None:
    body = {
        "topic": "conversation.user.replied",
        "data": {
            "item": {
                "id": "123",
                "source": {"id": "1", "body": "<p>old</p>", "author": {"type": "user"}},
                "conversation_parts": {
                    "conversation_parts": [
                        {
                            "id": "2",
                            "author": {"type": "user", "id": "u1"},
                            "body": "<p>Still &amp; again:<br>error 500</p>",
                            "attachments": [
                                {"name": "s.png", "url": "https://downloads.intercomcdn.com/s.png"}
                            ],
                        },
                        {"id": "3", "part_type": "note", "author": {"type": "admin", "id": "991"}},
                    ]
                },
            }
        },
    }
    event = REGISTRY.parse("intercom", body)
    assert event.ticket_id == "123" and "Still & again:" in event.text and "error 500" in event.text
    assert event.attachments[0].name == "s.png" and event.comment_id == "2"


def test_an_intercom_note_is_read_with_its_author() -> None:
    body = {
        "topic": "conversation.admin.noted",
        "data": {
            "item": {
                "id": "123",
                "source": {"id": "1", "body": "<p>q</p>"},
                "conversation_parts": {
                    "conversation_parts": [
                        {
                            "id": "3",
                            "part_type": "note",
                            "body": "<p>n</p>",
                            "author": {"type": "admin", "id": "991"},
                        }
                    ]
                },
            }
        },
    }
    event = REGISTRY.parse("intercom", body)
    assert (event.kind, event.actor_id, event.text) == ("note", "991", "n")


ISSUE: dict[str, Any] = {
    "key": "SD-7",
    "self": "https://acme.atlassian.net/rest/api/2/issue/10001",
    "fields": {
        "summary": "Deploy fails",
        "description": "exit code 137",
        "attachment": [
            {
                "id": "11",
                "filename": "log.png",
                "author": {"accountId": "a1"},
                "created": "2026-01-01T10:00:00.000+0000",
                "content": "https://acme.atlassian.net/rest/api/3/attachment/content/11",
            },
            {
                "id": "12",
                "filename": "new.png",
                "author": {"accountId": "a2"},
                "created": "2026-01-02T10:00:05.000+0000",
                "content": "https://acme.atlassian.net/rest/api/3/attachment/content/12",
            },
        ],
    },
}


def test_jira_new_issue_takes_all_its_attachments_in_the_no_redirect_form() -> None:
    created = REGISTRY.parse("jira", {"webhookEvent": "jira:issue_created", "issue": ISSUE})
    assert created.text == "Deploy fails\n\nexit code 137"
    assert [a.url for a in created.attachments] == [
        "https://acme.atlassian.net/rest/api/3/attachment/content/11?redirect=false",
        "https://acme.atlassian.net/rest/api/3/attachment/content/12?redirect=false",
    ]


def test_jira_secure_attachment_links_become_the_api_download_form() -> None:
    issue = {
        **ISSUE,
        "fields": {
            "summary": "s",
            "attachment": [
                {
                    "filename": "a.png",
                    "content": "https://acme.atlassian.net/secure/attachment/77/a.png",
                }
            ],
        },
    }
    [file] = REGISTRY.parse(
        "jira", {"webhookEvent": "jira:issue_created", "issue": issue}
    ).attachments
    assert file.url == "https://acme.atlassian.net/rest/api/3/attachment/content/77?redirect=false"


@pytest.mark.parametrize(
    ("comment", "expected"),
    [
        # uploaded by the comment's author with it
        ({"body": "still broken", "author": {"accountId": "a2"}}, ["new.png"]),
        # shown in the comment by name (wiki markup), whoever uploaded it
        ({"body": "see !log.png|thumbnail!", "author": {"accountId": "a3"}}, ["log.png"]),
        # neither: none of the issue's files
        ({"body": "any news?", "author": {"accountId": "a3"}}, []),
        # an ADF body with a media node naming the file
        (
            {
                "body": {
                    "type": "doc",
                    "content": [
                        {"type": "paragraph", "content": [{"type": "text", "text": "look"}]},
                        {
                            "type": "mediaSingle",
                            "content": [{"type": "media", "attrs": {"alt": "log.png"}}],
                        },
                    ],
                },
                "author": {"accountId": "a3"},
            },
            ["log.png"],
        ),
    ],
)
def test_jira_comment_takes_only_its_own_attachments(
    comment: dict[str, Any], expected: list[str]
) -> None:
    comment = {"id": "500", "created": "2026-01-02T10:00:20.000+0000", **comment}
    event = REGISTRY.parse(
        "jira", {"webhookEvent": "comment_created", "issue": ISSUE, "comment": comment}
    )
    assert [a.name for a in event.attachments] == expected
    assert event.comment_id == "500" and event.actor_id == comment["author"]["accountId"]


def test_jira_attachments_added_later_are_read() -> None:
    body = {
        "webhookEvent": "jira:issue_updated",
        "user": {"accountId": "a2"},
        "issue": ISSUE,
        "changelog": {
            "items": [
                {"field": "status", "fieldId": "status", "to": "3"},
                {"field": "Attachment", "fieldId": "attachment", "to": "12", "toString": "new.png"},
                {
                    "field": "Attachment",
                    "fieldId": "attachment",
                    "to": "99",
                    "toString": "gone.png",
                },
            ]
        },
    }
    event = REGISTRY.parse("jira", body)
    assert [(a.name, a.url) for a in event.attachments] == [
        ("new.png", "https://acme.atlassian.net/rest/api/3/attachment/content/12?redirect=false"),
        ("gone.png", "https://acme.atlassian.net/rest/api/3/attachment/content/99?redirect=false"),
    ]
    status_only = {**body, "changelog": {"items": [{"fieldId": "status", "to": "3"}]}}
    with pytest.raises(NotATicket):
        REGISTRY.parse("jira", status_only)


@pytest.mark.parametrize(
    ("provider", "body"),
    [
        ("zendesk", {"type": "zen:event-type:ticket.status_changed"}),
        ("intercom", []),
        ("intercom", {"topic": "conversation.admin.replied", "data": {}}),
        ("jira", {"webhookEvent": "jira:issue_deleted"}),
    ],
)
def test_other_events_are_not_tickets(provider: str, body: object) -> None:
    with pytest.raises(NotATicket):
        REGISTRY.parse(provider, body)


@pytest.mark.parametrize(
    ("provider", "body"),
    [
        ("zendesk", {"ticket": {"id": None}}),
        ("zendesk", {"ticket": {"latest_comment": {"value": "x"}}}),
        ("zendesk", {"ticket": {"id": "12\n"}}),
        ("zendesk", {"ticket": {"id": "{{ticket.id}}"}}),
        ("jira", {"webhookEvent": "jira:issue_created", "issue": {"key": None}}),
        ("generic", {"text": "no id"}),
    ],
)
def test_null_missing_or_malformed_ids_are_refused(provider: str, body: object) -> None:
    with pytest.raises(BadTicketId):
        REGISTRY.parse(provider, body)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
        max_leaves=20,
    )
)
def test_any_json_is_a_ticket_or_a_clear_refusal(value: object) -> None:
    for provider in REGISTRY.routes:
        for body in (value, {"ticket": value}, {"webhookEvent": "comment_created", "issue": value}):
            with contextlib.suppress(NotATicket, UnreadableTicket, BadTicketId):
                REGISTRY.parse(provider, body)


# Jira Service Management automation, "Send web request": the bodies it offers.
# https://support.atlassian.com/cloud-automation/docs/issue-data-jira-format-payload-for-send-web-request-action/
# https://support.atlassian.com/cloud-automation/docs/issue-data-automation-format-payload-for-send-web-request/
_FIELDS = {
    "summary": "Printer offline",
    "description": "Error 0x80070005",
    "attachment": [{"filename": "p.png", "content": "https://acme.atlassian.net/a/1", "size": 5}],
}


def test_jira_automation_rest_api_format() -> None:
    event = REGISTRY.parse(
        "jira-automation", {"issue": {"id": 1, "key": "IT-4", "fields": _FIELDS}}
    )
    assert (event.ticket_id, event.text) == ("IT-4", "Printer offline\n\nError 0x80070005")
    # Token-only: the body's attachments are never fetched; Jira lists the issue's by key.
    assert (event.attachments, event.kind) == ((), "automation")


def test_jira_automation_automation_format_with_a_comment() -> None:
    body = {"id": 1, "key": "SP-53", "fields": _FIELDS, "comment": {"body": "still broken"}}
    event = REGISTRY.parse("jira-automation", body)
    assert (event.ticket_id, event.text) == ("SP-53", "still broken")


def test_jira_automation_document_format_description() -> None:
    adf = {
        "type": "doc",
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": "line one"}]},
            {"type": "paragraph", "content": [{"type": "text", "text": "line two"}]},
        ],
    }
    event = REGISTRY.parse("jira-automation", {"key": "SP-1", "fields": {"description": adf}})
    assert event.text == "line one\nline two"


@pytest.mark.parametrize(
    "body",
    [{}, {"issue": {"fields": {}}}, {"key": ""}, {"key": None}, {"key": True}, {"fields": []}],
)
def test_jira_automation_without_an_issue_key_is_refused(body: dict[str, object]) -> None:
    with pytest.raises(ValueError):  # BadTicketId (400) or NotATicket
        REGISTRY.parse("jira-automation", body)


# A delivery for the bot whose body cannot be read is refused naming the field (issue: a
# Zendesk trigger body from the admin's own template was answered "ignored" before).
@pytest.mark.parametrize(
    ("provider", "body", "field"),
    [
        ("zendesk", {"nothing": 1}, "ticket"),
        ("zendesk", [], "the body"),
        ("zendesk", {"ticket": "501"}, "ticket"),
        (
            "zendesk",
            {"type": "zen:event-type:ticket.comment_added", "detail": {"id": "5"}},
            "event",
        ),
        ("intercom", {"topic": "conversation.user.created", "data": {}}, "data.item"),
        (
            "intercom",
            {"topic": "conversation.user.created", "data": {"item": {"id": "7"}}},
            "data.item.source (or conversation_message in 1.x)",
        ),
        ("jira", {"webhookEvent": "comment_created"}, "issue"),
        (
            "jira",
            {"webhookEvent": "comment_created", "issue": {"key": "SD-1"}},
            "comment",
        ),
        (
            "jira",
            {"webhookEvent": "jira:issue_created", "issue": {"key": "SD-1", "fields": 3}},
            "issue.fields",
        ),
        ("jira-automation", {"issue": "SD-1"}, "issue"),
        ("generic", "text", "the body"),
    ],
)
def test_a_delivery_for_the_bot_that_cannot_be_read_names_the_field(
    provider: str, body: object, field: str
) -> None:
    with pytest.raises(UnreadableTicket) as refused:
        REGISTRY.parse(provider, body)
    assert refused.value.field == field
    assert str(refused.value).startswith(field) and refused.value.shape in str(refused.value)


def test_a_zendesk_refusal_points_at_the_shipped_trigger_body() -> None:
    with pytest.raises(UnreadableTicket, match=r"deploy/zendesk/trigger-body\.json"):
        REGISTRY.parse("zendesk", {"ticket_id": "501", "comment": "printer down"})


# Intercom's 1.x notification: the conversation's first message under `conversation_message`,
# no `source`. Body captured from Intercom by hull/hull-connectors
# (packages/connectors/hull-intercom/test/unit/purplefusion/fixtures/
# webhook-conversation-admin-single-created-lead.js), with the topic and the author changed to
# a customer's new conversation, which is what the bot subscribes to.
INTERCOM_1X = {
    "type": "notification_event",
    "app_id": "iynax7cx",
    "data": {
        "type": "notification_event_data",
        "item": {
            "type": "conversation",
            "id": "15494800000000",
            "created_at": 1597106522,
            "updated_at": 1597106522,
            "user": {"type": "lead", "id": "59e0e10b12ce6cb8f7a30587", "do_not_track": None},
            "assignee": {"type": "admin", "id": "3330619", "name": "Andy"},
            "conversation_message": {
                "type": "conversation_message",
                "id": "612553981",
                "url": None,
                "subject": "test",
                "body": "<p>Hi there,</p><p>Error 0x80070005 when I print</p>",
                "author": {"type": "lead", "id": "59e0e10b12ce6cb8f7a30587"},
                "attachments": [],
            },
            "conversation_parts": {
                "type": "conversation_part.list",
                "conversation_parts": [],
                "total_count": 0,
            },
            "open": False,
            "state": "closed",
            "read": False,
            "tags": {"type": "tag.list", "tags": []},
        },
    },
    "links": {},
    "id": "notif_4eccb049-b15d-4952-8792-1265013d4b78",
    "topic": "conversation.user.created",
    "delivery_status": "pending",
    "delivery_attempts": 1,
    "delivered_at": 0,
    "first_sent_at": 1597106523,
    "created_at": 1597106522,
    "self": None,
}


def test_intercom_1x_conversation_message_is_read_like_2x_source() -> None:
    event = REGISTRY.parse("intercom", INTERCOM_1X)
    assert (event.ticket_id, event.kind, event.comment_id) == (
        "15494800000000",
        "ticket",
        "612553981",
    )
    assert "Hi there," in event.text and "Error 0x80070005" in event.text
    assert event.actor_id == "59e0e10b12ce6cb8f7a30587"
    item = INTERCOM_1X["data"]["item"]  # type: ignore[index]
    as_2x = {
        **INTERCOM_1X,
        "data": {"item": {**item, "source": item["conversation_message"]}},
    }
    assert REGISTRY.parse("intercom", as_2x) == event


@pytest.mark.parametrize(
    ("provider", "body", "message"),
    [
        (
            "intercom",
            {"topic": "conversation.user.created", "data": {"item": {"id": "7", "source": "hi"}}},
            "data.item.source is not an object",
        ),
        (
            "jira",
            {
                "webhookEvent": "jira:issue_created",
                "issue": {"key": "SD-1", "fields": {"attachment": "x"}},
            },
            "issue.fields.attachment is not a list",
        ),
        (
            "zendesk",
            {"type": "zen:event-type:ticket.comment_added", "event": {"comment": []}},
            "event.comment is not an object",
        ),
    ],
)
def test_a_malformed_body_is_one_error_naming_the_field(
    provider: str, body: object, message: str
) -> None:
    with pytest.raises(UnreadableTicket) as refused:
        REGISTRY.parse(provider, body)
    assert str(refused.value).startswith(message + "; send ")


@pytest.mark.parametrize(
    ("route", "field"),
    [("intercom", "topic"), ("jira", "webhookEvent"), ("zendesk", "type")],
)
@pytest.mark.parametrize(
    "value", ["zen:event-type:" + "x" * 100_000, ["x" * 1000] * 100], ids=["long", "list"]
)
def test_an_ignored_event_names_its_type_briefly(route: str, field: str, value: Any) -> None:
    """The 202 (or 422) answer and the log quote the sender's event type, cut short: a 1 MB
    type is not echoed back whole."""
    with pytest.raises((NotATicket, UnreadableTicket)) as raised:
        REGISTRY.parse(route, {field: value})
    assert len(str(raised.value)) < 200
