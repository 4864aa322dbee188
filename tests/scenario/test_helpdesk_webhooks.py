"""Helpdesk webhooks end to end: signed tickets in, internal notes out, against fake vendors
that behave as documented (auth, redirects to a separate file host, events echoed back)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from bot.engine import TextPart
from bot.engine.transformers_engine import TransformersEngine
from bot.intake.jobs import Job, JobAttachment
from bot.messages import Message, say
from bot.stores.jobs import RedisJobStore
from handlers.helpdesks.intercom.helpdesk import INTERCOM_VERSION
from handlers.helpdesks.jira.notes import NOTE_PROPERTY
from handlers.helpdesks.registry import REGISTRY
from handlers.helpdesks.zendesk.notes import ANSWERED_TAG
from tests.support import fake_helpdesk as vendor
from tests.support.fake_attachment_host import FakeAttachmentHost
from tests.support.fake_helpdesk import FakeHelpdesk
from tests.support.redis_contents import stored_bytes
from tests.support.running_bot import RunningBot, run_bot
from tests.support.screenshots import render_error_screenshot
from tests.support.servers import ServerThread
from tests.support.webhook_deliveries import SECRETS, deliver

pytestmark = pytest.mark.slow

SHOT = render_error_screenshot()
READ_TOKEN = "jobs-read-token"
READER = {"Authorization": f"Bearer {READ_TOKEN}"}


def _settings(helpdesk_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "zendesk_webhook_secret": SECRETS["zendesk"],
        "zendesk_url": helpdesk_url,
        "zendesk_email": vendor.ZENDESK_EMAIL,
        "zendesk_api_token": vendor.ZENDESK_TOKEN,
        "intercom_webhook_secret": SECRETS["intercom"],
        "intercom_url": helpdesk_url,
        "intercom_token": vendor.INTERCOM_TOKEN,
        "intercom_admin_id": vendor.INTERCOM_ADMIN,
        "jira_webhook_secret": SECRETS["jira"],
        "jira_url": helpdesk_url,
        "jira_email": vendor.JIRA_EMAIL,
        "jira_api_token": vendor.JIRA_TOKEN,
        "jira_automation_secret": SECRETS["jira-automation"],
        "helpdesk_retry_seconds": 0.2,
        "generic_webhook_secret": SECRETS["generic"],
        # the API on 127.0.0.1, the vendors' file host on 127.0.0.2
        "webhook_attachment_hosts": ["127.0.0.1", "127.0.0.2"],
        "webhook_allowed_networks": ["127.0.0.0/8"],
        "jobs_read_token": READ_TOKEN,
        **extra,
    }


@pytest.fixture(scope="module")
def helpdesk() -> Iterator[FakeHelpdesk]:
    files = FakeAttachmentHost()
    fake = FakeHelpdesk(files)
    fake.add_file("err.png", SHOT)
    with ServerThread(files.app, host="127.0.0.2") as file_server, ServerThread(fake.app) as api:
        files.url, fake.url = file_server.url, api.url
        yield fake


@pytest.fixture(scope="module")
def bot(
    tiny_engine: TransformersEngine, redis_url: str, helpdesk: FakeHelpdesk
) -> Iterator[RunningBot]:
    settings = _settings(helpdesk.url, webhook_slack_channel="CHELPDESK")
    with run_bot(tiny_engine, redis_url, **settings) as running:
        # Every vendor echoes the bot's own notes back, as they do when connected as documented.
        helpdesk.send_events_to(running.url, SECRETS)
        helpdesk.zendesk_trigger = "any update"
        helpdesk.zendesk_comment_events = True
        helpdesk.jira_comment_events = True
        helpdesk.intercom_note_events = True
        yield running


def _post(
    bot: RunningBot, provider: str, body: dict[str, Any], secret: str | None = None
) -> httpx.Response:
    return deliver(bot, provider, body, secret=secret)


def _view(bot: RunningBot, job_id: str) -> dict[str, Any]:
    view: dict[str, Any] = httpx.get(f"{bot.url}/jobs/{job_id}", headers=READER).json()
    return view


def _wait_done(bot: RunningBot, job_id: str) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        view = _view(bot, job_id)
        return view if view["state"] in {"done", "failed", "ignored", "dead"} else None

    return bot.slack.wait_for(finished)


def _zendesk_ticket(helpdesk: FakeHelpdesk, ticket_id: int, text: str) -> dict[str, Any]:
    helpdesk.add_zendesk_ticket(ticket_id, text, [("err.png", SHOT)])
    # what the shipped trigger sends when the customer's comment updates the ticket
    return helpdesk.zendesk_trigger_body(ticket_id, updater=555)


def _ticket(helpdesk: FakeHelpdesk, provider: str, number: int) -> tuple[str, dict[str, Any]]:
    if provider == "zendesk":
        return str(number), _zendesk_ticket(helpdesk, number, "Checkout shows this error")
    if provider == "intercom":
        body = helpdesk.add_intercom_conversation(
            str(number), "App says ModuleNotFoundError", [("err.png", SHOT)]
        )
        return str(number), body
    if provider == "jira":
        key = f"SD-{number}"
        issue = helpdesk.add_jira_issue(key, "Deploy fails", [("err.png", SHOT)])
        return key, {
            "webhookEvent": "jira:issue_created",
            "user": {"accountId": "cust-1"},
            "issue": issue,
        }
    if provider == "jira-automation":
        # Jira Service Management automation, "Send web request" with the body
        # "Issue data (Jira REST API format)":
        # https://support.atlassian.com/cloud-automation/docs/issue-data-jira-format-payload-for-send-web-request-action/
        key = f"SD-{number + 1000}"
        issue = helpdesk.add_jira_issue(key, "Printer driver crash", [("err.png", SHOT)])
        return key, {"issue": issue, "timestamp": 1700000000000}
    body = {
        "ticket_id": f"G-{number}",
        "text": "npm ERR! EACCES",
        "attachments": [{"name": "err.png", "url": f"{helpdesk.url}/files/err.png"}],
    }
    return f"G-{number}", body


def _echoes_settled(
    bot: RunningBot, helpdesk: FakeHelpdesk, provider: str, ticket: str, count: int
) -> list[dict[str, Any]]:
    """Wait until the vendor has echoed the bot's note `count` times and each echo is finished."""

    def settled() -> list[dict[str, Any]] | None:
        views = []
        for delivery in helpdesk.deliveries_for(provider):
            if "job" not in delivery.answer:
                continue
            view = _view(bot, delivery.answer["job"])
            if view["ticket"] == ticket:
                views.append(view)
        done = [v for v in views if v["state"] in {"done", "failed", "ignored", "dead"}]
        return views if len(views) >= count and len(done) == len(views) else None

    return list(bot.slack.wait_for(settled))


@pytest.mark.parametrize("provider", list(REGISTRY.routes))
def test_ticket_is_acknowledged_fast_then_answered_with_an_internal_note(
    bot: RunningBot, helpdesk: FakeHelpdesk, provider: str
) -> None:
    ticket, body = _ticket(helpdesk, provider, 501)
    vendor_name = REGISTRY.helpdesk_name(provider)
    helpdesk.files.hold_files()  # the job waits for its screenshot, so no answer exists yet
    try:
        response = _post(bot, provider, body)
        assert response.status_code == 202  # acknowledged without waiting for the diagnosis
        assert not [n for n in helpdesk.notes(vendor_name) if n.ticket_id == ticket]
    finally:
        helpdesk.files.release_files()
    view = _wait_done(bot, response.json()["job"])
    assert view["state"] == "done" and view["result"]
    announced = [
        c.args["text"]
        for c in bot.slack.calls("chat.postMessage")
        if c.args["channel"] == "CHELPDESK"
    ]
    assert any(f"{vendor_name} ticket {ticket}" in text for text in announced)
    assert len(bot.engine.requests[-1].images) == 1, "the screenshot reached the model"
    assert helpdesk.files.leaked == [], "no credential reached the file host"
    if provider == "generic":
        assert view["note_posted"] is False  # the generic webhook's answer is the job itself
        return
    [note] = [n for n in helpdesk.notes(vendor_name) if n.ticket_id == ticket]
    if provider == "zendesk":
        assert note.body["ticket"]["comment"]["public"] is False
        assert note.body["ticket"]["additional_tags"] == [ANSWERED_TAG]
        assert helpdesk.files.served[-1] == "err.png"  # via the 302 to the download host
    elif provider == "intercom":
        assert (
            note.body["message_type"] == "note" and note.body["admin_id"] == vendor.INTERCOM_ADMIN
        )
        assert note.body["body"].startswith("<p>")
        assert note.headers["intercom-version"] == INTERCOM_VERSION
    else:
        properties = {p["key"]: p["value"] for p in note.body["properties"]}
        assert properties["sd.public.comment"] == {"internal": True}
        assert properties[NOTE_PROPERTY] == {"job": view["id"]}


@pytest.mark.parametrize("provider", ["zendesk", "jira", "intercom"])
def test_the_bots_own_note_echoed_back_by_the_helpdesk_is_never_answered(
    bot: RunningBot, helpdesk: FakeHelpdesk, provider: str
) -> None:
    ticket, body = _ticket(helpdesk, provider, 610)
    view = _wait_done(bot, _post(bot, provider, body).json()["job"])
    assert view["state"] == "done" and view["note_posted"]
    # Zendesk sends both its trigger and its comment_added event for the bot's note.
    echoes = _echoes_settled(bot, helpdesk, provider, ticket, 2 if provider == "zendesk" else 1)
    assert [e["state"] for e in echoes] == ["ignored"] * len(echoes)
    assert [n.ticket_id for n in helpdesk.notes(provider)].count(ticket) == 1


def test_the_shipped_zendesk_trigger_never_fires_on_the_bots_private_note(
    bot: RunningBot, helpdesk: FakeHelpdesk
) -> None:
    helpdesk.zendesk_trigger, helpdesk.zendesk_comment_events = "shipped", False
    try:
        body = _zendesk_ticket(helpdesk, 611, "hi")
        view = _wait_done(bot, _post(bot, "zendesk", body).json()["job"])
        assert view["state"] == "done" and view["note_posted"]
        # the trigger's conditions were evaluated on the bot's update, and did not match
        assert [fired for ticket, fired in helpdesk.trigger_runs if ticket == 611] == [False]
    finally:
        helpdesk.zendesk_trigger, helpdesk.zendesk_comment_events = "any update", True


def test_a_zendesk_comment_added_event_reads_the_comments_attachments(
    bot: RunningBot, helpdesk: FakeHelpdesk
) -> None:
    helpdesk.add_zendesk_ticket(620, "the app crashes like this", [("crash.png", SHOT)])
    response = _post(bot, "zendesk", helpdesk.zendesk_comment_event(620))
    view = _wait_done(bot, response.json()["job"])
    assert view["state"] == "done"
    assert len(bot.engine.requests[-1].images) == 1
    assert "the app crashes like this" in str(bot.engine.requests[-1].messages)


def test_a_zendesk_attachment_without_a_usable_link_is_named_in_the_note(
    bot: RunningBot, helpdesk: FakeHelpdesk
) -> None:
    body = {
        "ticket": {
            "id": "630",
            "updater_id": "555",
            "latest_comment": {
                "value": "see attached",
                "attachments": [{"filename": "trace.png", "url": "{{attachment.url}}"}],
            },
        }
    }
    view = _wait_done(bot, _post(bot, "zendesk", body).json()["job"])
    assert view["state"] == "done"
    [note] = [n for n in helpdesk.notes("zendesk") if n.ticket_id == "630"]
    text = note.body["ticket"]["comment"]["body"]
    assert "trace.png" in text and say(Message.REASON_NO_LINK) in text


def test_a_jira_comment_reads_only_its_own_attachments_and_later_uploads_are_read(
    bot: RunningBot, helpdesk: FakeHelpdesk
) -> None:
    helpdesk.add_jira_issue("SD-640", "Deploy fails", [("old.png", b"not an image at all")])
    helpdesk.add_jira_attachment("SD-640", "new.png", SHOT, author="cust-2")
    comment = helpdesk.jira_comment_created("SD-640", "still failing, see new.png", author="cust-2")
    view = _wait_done(bot, _post(bot, "jira", comment).json()["job"])
    assert view["state"] == "done"
    assert [image.name for image in bot.engine.requests[-1].images] == ["new.png"]
    [note] = [n for n in helpdesk.notes("jira") if n.ticket_id == "SD-640"]
    assert "old.png" not in json.dumps(note.body), "the issue's other files are not this comment's"

    later = helpdesk.add_jira_attachment("SD-640", "later.png", SHOT, author="cust-3")
    view = _wait_done(
        bot,
        _post(bot, "jira", helpdesk.jira_attachment_added("SD-640", later)).json()["job"],
    )
    # the thread's earlier screenshot comes from history; the new upload was read, the old file not
    names = [image.name for image in bot.engine.requests[-1].images]
    assert view["state"] == "done" and names == ["new.png", "later.png"]
    assert helpdesk.files.leaked == []


def test_intercom_links_that_expired_are_read_fresh_before_the_download(
    bot: RunningBot, helpdesk: FakeHelpdesk
) -> None:
    body = helpdesk.add_intercom_conversation("650", "blank screen", [("blank.png", SHOT)])
    helpdesk.files.expire_links()  # the delivery's signed links no longer work
    view = _wait_done(bot, _post(bot, "intercom", body).json()["job"])
    assert view["state"] == "done" and len(bot.engine.requests[-1].images) == 1
    intercom_calls = [
        h for m, path, h in helpdesk.requests if path.startswith("/conversations/650")
    ]
    assert intercom_calls and all(h["intercom-version"] == INTERCOM_VERSION for h in intercom_calls)


def test_credentials_go_only_to_the_vendors_own_download_urls(
    bot: RunningBot, helpdesk: FakeHelpdesk
) -> None:
    blob = helpdesk.files.store("direct.png", SHOT)
    elsewhere = helpdesk.files.signed_link(blob)  # another host: no credentials
    api_path = f"{helpdesk.url}/api/v2/users/me.json"  # the vendor's host, not a download path
    body = {
        "ticket": {
            "id": "660",
            "updater_id": "555",
            "latest_comment": {
                "value": "two files",
                "attachments": [
                    {"filename": "direct.png", "url": elsewhere},
                    {"filename": "me.png", "url": api_path},
                ],
            },
        }
    }
    view = _wait_done(bot, _post(bot, "zendesk", body).json()["job"])
    assert view["state"] == "done" and len(bot.engine.requests[-1].images) == 1
    assert helpdesk.files.leaked == []
    me_calls = [h for m, path, h in helpdesk.requests if path == "/api/v2/users/me.json"]
    # the bot's own identity lookup is authenticated; the attachment URL on that path is not
    assert any("authorization" not in h for h in me_calls)


@pytest.mark.parametrize(
    ("provider", "body"),
    [
        ("zendesk", {"ticket": {"id": "../../users/me", "latest_comment": {"value": "x"}}}),
        ("zendesk", {"ticket": {"id": None, "latest_comment": {"value": "x"}}}),
        (
            "jira",
            {"webhookEvent": "jira:issue_created", "issue": {"key": "SD-1/../../x", "fields": {}}},
        ),
        (
            "intercom",
            {
                "topic": "conversation.user.created",
                "data": {"item": {"id": "1/../../admins", "source": {"body": "x"}}},
            },
        ),
        ("generic", {"ticket_id": None, "text": "x"}),
    ],
)
def test_a_ticket_id_out_of_its_vendors_format_is_refused_with_400(
    bot: RunningBot, helpdesk: FakeHelpdesk, provider: str, body: dict[str, Any]
) -> None:
    before = len(helpdesk.requests)
    response = _post(bot, provider, body)
    assert response.status_code == 400 and "ticket id" in response.json()["error"]
    assert helpdesk.requests[before:] == []


def test_a_delivery_for_the_bot_it_cannot_read_is_refused_out_loud(
    bot: RunningBot, helpdesk: FakeHelpdesk
) -> None:
    before = len(helpdesk.requests)
    # A trigger body written from an admin's own template instead of deploy/zendesk/.
    own_template = {"ticket_id": "{{ticket.id}}", "comment": "{{ticket.latest_comment}}"}
    refused = _post(bot, "zendesk", own_template)
    assert refused.status_code == 422
    answer = refused.json()
    assert answer["field"] == "ticket" and "deploy/zendesk/trigger-body.json" in answer["expected"]
    assert "ticket is missing" in answer["error"]
    unreadable = {"topic": "conversation.user.created", "id": "notif_x", "data": {"item": {}}}
    assert _post(bot, "intercom", unreadable).status_code == 422
    metrics = httpx.get(f"{bot.url}/metrics").text
    assert 'supportbot_webhooks_unreadable_total{provider="zendesk"} 1.0' in metrics
    assert 'supportbot_webhooks_unreadable_total{provider="intercom"} 1.0' in metrics
    # An event that is genuinely not for the bot is still a quiet 2xx.
    status_change = {
        "webhookEvent": "jira:issue_updated",
        "issue": {"key": "SD-9", "fields": {}},
        "changelog": {"items": [{"fieldId": "status", "to": "3"}]},
    }
    ignored = _post(bot, "jira", status_change)
    assert ignored.status_code == 202 and "ignored" in ignored.json()
    assert helpdesk.requests[before:] == []


def test_an_intercom_1x_notification_is_answered(bot: RunningBot, helpdesk: FakeHelpdesk) -> None:
    body = {
        "type": "notification_event",
        "topic": "conversation.user.created",
        "id": "notif_1x_shape",
        "data": {
            "item": {
                "type": "conversation",
                "id": "4401",
                "conversation_message": {
                    "type": "conversation_message",
                    "id": "612553981",
                    "body": "<p>npm ERR! code EACCES</p>",
                    "author": {"type": "lead", "id": "59e0e10b12ce6cb8f7a30587"},
                    "attachments": [],
                },
                "conversation_parts": {"conversation_parts": [], "total_count": 0},
            }
        },
    }
    accepted = _post(bot, "intercom", body)
    assert accepted.status_code == 202, accepted.text
    assert _wait_done(bot, accepted.json()["job"])["state"] == "done"
    assert any("npm ERR! code EACCES" in str(r.messages) for r in bot.engine.requests)
    assert [n for n in helpdesk.notes("intercom") if n.ticket_id == "4401"]


def test_a_replayed_delivery_is_processed_once(bot: RunningBot, helpdesk: FakeHelpdesk) -> None:
    body = {"ticket": {"id": 777, "latest_comment": {"body": "replayed", "attachments": []}}}
    first = _post(bot, "zendesk", body)
    _wait_done(bot, first.json()["job"])
    raw = json.dumps(body).encode()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    replay = httpx.post(
        f"{bot.url}/webhooks/zendesk",
        content=raw,
        headers=REGISTRY.sign("zendesk", SECRETS["zendesk"], raw, stamp),
    )
    # a replay signed at another second is another delivery of the same body: same job
    assert replay.json()["job"] == first.json()["job"]
    _echoes_settled(bot, helpdesk, "zendesk", "777", 2)
    assert len([n for n in helpdesk.notes("zendesk") if n.ticket_id == "777"]) == 1


def test_bad_signature_is_401_and_nothing_is_processed(bot: RunningBot) -> None:
    body = {"ticket_id": "X-1", "text": "should never run"}
    response = _post(bot, "generic", body, secret="wrong-secret")
    assert response.status_code == 401
    time.sleep(0.5)
    assert all("should never run" not in str(r.messages) for r in bot.engine.requests)


def test_attachment_on_a_private_address_is_refused_and_named(
    tiny_engine: TransformersEngine, redis_url: str, helpdesk: FakeHelpdesk
) -> None:
    with run_bot(
        tiny_engine, redis_url, **_settings(helpdesk.url, webhook_allowed_networks=[])
    ) as strict:
        issue = helpdesk.add_jira_issue("SD-10", "s", [("err.png", SHOT)])
        response = _post(strict, "jira", {"webhookEvent": "jira:issue_created", "issue": issue})
        view = _wait_done(strict, response.json()["job"])
        assert view["state"] == "done"
        note = next(n for n in helpdesk.notes("jira") if n.ticket_id == "SD-10")
        assert "err.png" in json.dumps(note.body) and "not hosted where I am allowed" in json.dumps(
            note.body
        )
        assert strict.engine.requests[-1].images == ()


def test_a_job_interrupted_by_a_restart_is_finished(
    tiny_engine: TransformersEngine, redis_url: str, helpdesk: FakeHelpdesk
) -> None:
    import asyncio

    prefix = f"supportbot-restart-{time.monotonic_ns()}"
    job = Job(
        "interrupted01",
        "zendesk",
        "888",
        "crashed mid-job",
        (JobAttachment("err.png", f"{helpdesk.url}/files/err.png"),),
    )

    async def crash_mid_job() -> None:
        client = Redis.from_url(redis_url)
        store = RedisJobStore(client, prefix=prefix)
        await store.submit(job)
        assert await store.claim(timeout=1) is not None  # in flight when the process "died"
        await client.aclose()

    asyncio.run(crash_mid_job())
    with run_bot(
        # The dead process's lease runs out before the restarted one takes the job over.
        tiny_engine,
        redis_url,
        **_settings(helpdesk.url, redis_key_prefix=prefix, job_lease_seconds=2),
    ) as restarted:
        view = _wait_done(restarted, "interrupted01")
        assert view["state"] == "done" and view["note_posted"]
    assert [n.ticket_id for n in helpdesk.notes("zendesk")].count("888") == 1


def test_a_helpdesk_outage_is_retried_and_the_note_arrives(
    bot: RunningBot, helpdesk: FakeHelpdesk
) -> None:
    helpdesk.fail_notes(2)
    body = _zendesk_ticket(helpdesk, 999, "flaky helpdesk")
    view = _wait_done(bot, _post(bot, "zendesk", body).json()["job"])
    assert view["state"] == "done" and view["note_posted"]
    assert [n.ticket_id for n in helpdesk.notes("zendesk")].count("999") == 1


def test_unknown_provider_and_unknown_job_are_404(bot: RunningBot) -> None:
    assert httpx.post(f"{bot.url}/webhooks/freshdesk", content=b"{}").status_code == 404
    assert httpx.get(f"{bot.url}/jobs/does-not-exist", headers=READER).status_code == 404


def test_a_jobs_status_is_shown_only_to_its_helpdesk_or_the_read_token(bot: RunningBot) -> None:
    body = {"ticket_id": "G-7", "text": "npm ERR! EACCES", "attachments": []}
    job_id = _post(bot, "generic", body).json()["job"]
    url = f"{bot.url}/jobs/{job_id}"
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}):
        refused = httpx.get(url, headers=headers)
        assert refused.status_code == 401 and "G-7" not in refused.text
    other = {"Authorization": f"Bearer {SECRETS['zendesk']}"}
    assert httpx.get(url, headers=other).status_code == 404, "another helpdesk sees nothing"
    own = {"Authorization": f"Bearer {SECRETS['generic']}"}
    assert httpx.get(url, headers=own).json()["ticket"] == "G-7"
    assert httpx.get(url, headers=READER).json()["ticket"] == "G-7"


def test_a_ticket_is_kept_redacted_text_and_file_names_alike(
    bot: RunningBot, redis_url: str
) -> None:
    secret, mail = "AKIAIOSFODNN7EXAMPLE", "ops.lead@acme.example"
    body = {
        "ticket_id": "G-8",
        "text": f"deploy fails with key {secret}",
        "attachments": [{"name": f"{mail}.png", "url": f"{bot.slack_url}/files/none.png"}],
    }
    view = _wait_done(bot, _post(bot, "generic", body).json()["job"])
    assert view["state"] in {"done", "failed"}

    kept = stored_bytes(redis_url, bot.redis_prefix)
    assert b"G-8" in kept, "the job is in Redis"
    assert secret.encode() not in kept and mail.encode() not in kept


def test_deeply_nested_json_is_400_not_500(bot: RunningBot) -> None:
    raw = b"[" * 100_000 + b"]" * 100_000
    stamp = str(int(time.time()))
    headers = REGISTRY.sign("generic", SECRETS["generic"], raw, stamp)
    response = httpx.post(f"{bot.url}/webhooks/generic", content=raw, headers=headers)
    assert response.status_code == 400


def test_a_log_file_on_a_ticket_is_read_for_the_model(
    bot: RunningBot, helpdesk: FakeHelpdesk
) -> None:
    log = b'INFO start\nERROR: relation "orders" does not exist\n'
    helpdesk.add_zendesk_ticket(502, "Orders page is blank", [("server.log", log)])
    body = helpdesk.zendesk_trigger_body(502, updater=555)
    view = _wait_done(bot, _post(bot, "zendesk", body).json()["job"])
    assert view["state"] == "done"
    asked = [
        part.text
        for request in bot.engine.requests
        for part in request.messages[-1].parts
        if isinstance(part, TextPart)
    ]
    assert any('relation "orders" does not exist' in text for text in asked)
