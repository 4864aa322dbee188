"""Helpdesk webhooks end to end: signed tickets in, internal notes out via fake provider APIs."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from bot.engine.transformers_engine import TransformersEngine
from bot.intake.jobs import Job, JobAttachment
from bot.stores.jobs import RedisJobStore
from handlers.webhooks.signatures import Provider, sign
from tests.support.fake_helpdesk import FakeHelpdesk
from tests.support.running_bot import RunningBot, run_bot
from tests.support.screenshots import render_error_screenshot
from tests.support.servers import ServerThread

pytestmark = pytest.mark.slow

SECRETS = {p: f"{p.value}-webhook-secret" for p in Provider}


def _settings(helpdesk_url: str, **extra: Any) -> dict[str, Any]:
    return {
        "zendesk_webhook_secret": SECRETS[Provider.ZENDESK],
        "zendesk_url": helpdesk_url,
        "zendesk_email": "agent@acme.test",
        "zendesk_api_token": "zd-token",
        "intercom_webhook_secret": SECRETS[Provider.INTERCOM],
        "intercom_url": helpdesk_url,
        "intercom_token": "ic-token",
        "intercom_admin_id": "991",
        "jira_webhook_secret": SECRETS[Provider.JIRA],
        "jira_url": helpdesk_url,
        "jira_email": "agent@acme.test",
        "jira_api_token": "jira-token",
        "generic_webhook_secret": SECRETS[Provider.GENERIC],
        "webhook_attachment_hosts": ["127.0.0.1"],
        "webhook_allowed_networks": ["127.0.0.1/32"],
        **extra,
    }


@pytest.fixture(scope="module")
def helpdesk() -> Iterator[tuple[FakeHelpdesk, str]]:
    fake = FakeHelpdesk()
    fake.add_file("err.png", render_error_screenshot())
    with ServerThread(fake.app) as server:
        yield fake, server.url


@pytest.fixture(scope="module")
def bot(
    tiny_engine: TransformersEngine, redis_url: str, helpdesk: tuple[FakeHelpdesk, str]
) -> Iterator[RunningBot]:
    settings = _settings(helpdesk[1], webhook_slack_channel="CHELPDESK")
    with run_bot(tiny_engine, redis_url, **settings) as running:
        yield running


def _post(
    bot: RunningBot, provider: Provider, body: dict[str, Any], secret: str | None = None
) -> httpx.Response:
    raw = json.dumps(body).encode()
    stamp = (
        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if provider is Provider.ZENDESK
        else str(int(time.time()))
    )
    headers = sign(provider, secret or SECRETS[provider], raw, stamp) | {
        "Content-Type": "application/json"
    }
    return httpx.post(
        f"{bot.url}/webhooks/{provider.value}", content=raw, headers=headers, timeout=10
    )


def _wait_done(bot: RunningBot, job_id: str) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        view: dict[str, Any] = httpx.get(f"{bot.url}/jobs/{job_id}").json()
        return view if view["state"] in {"done", "failed"} else None

    return bot.slack.wait_for(finished)


def _bodies(url: str) -> dict[Provider, dict[str, Any]]:
    attachment = f"{url}/files/err.png"
    return {
        Provider.ZENDESK: {
            "ticket": {
                "id": 501,
                "latest_comment": {
                    "body": "Checkout shows this error",
                    "attachments": [
                        {"file_name": "err.png", "content_url": attachment, "size": 2000}
                    ],
                },
            }
        },
        Provider.INTERCOM: {
            "topic": "conversation.user.created",
            "data": {
                "item": {
                    "id": "c-77",
                    "source": {
                        "body": "<p>App says ModuleNotFoundError</p>",
                        "attachments": [{"name": "err.png", "url": attachment}],
                    },
                }
            },
        },
        Provider.JIRA: {
            "webhookEvent": "jira:issue_created",
            "issue": {
                "key": "SD-9",
                "fields": {
                    "summary": "Deploy fails",
                    "description": "see screenshot",
                    "attachment": [{"filename": "err.png", "content": attachment}],
                },
            },
        },
        Provider.GENERIC: {
            "ticket_id": "G-1",
            "text": "npm ERR! EACCES",
            "attachments": [{"name": "err.png", "url": attachment}],
        },
    }


@pytest.mark.parametrize("provider", list(Provider))
def test_ticket_is_acknowledged_fast_then_answered_with_an_internal_note(
    bot: RunningBot, helpdesk: tuple[FakeHelpdesk, str], provider: Provider
) -> None:
    fake, url = helpdesk
    started = time.monotonic()
    response = _post(bot, provider, _bodies(url)[provider])
    assert response.status_code == 202 and time.monotonic() - started < 1.0
    view = _wait_done(bot, response.json()["job"])
    assert view["state"] == "done" and view["result"]
    announced = [
        c.args["text"]
        for c in bot.slack.calls("chat.postMessage")
        if c.args["channel"] == "CHELPDESK"
    ]
    ticket = {"zendesk": "501", "intercom": "c-77", "jira": "SD-9", "generic": "G-1"}[
        provider.value
    ]
    assert any(f"{provider.value} ticket {ticket}" in text for text in announced)
    if provider is Provider.GENERIC:
        assert view["note_posted"] is False  # the generic webhook's answer is the job itself
        return
    [note] = fake.notes(provider.value)
    if provider is Provider.ZENDESK:
        assert note.ticket_id == "501" and note.body["ticket"]["comment"]["public"] is False
        assert note.authorization.startswith("Basic ")
    elif provider is Provider.INTERCOM:
        assert note.ticket_id == "c-77" and note.body["message_type"] == "note"
        assert note.body["admin_id"] == "991" and note.body["body"].startswith("<p>")
    else:
        assert note.ticket_id == "SD-9" and note.body["public"] is False
    assert len(bot.engine.requests[-1].images) == 1, "the screenshot reached the model"


def test_a_replayed_delivery_is_processed_once(
    bot: RunningBot, helpdesk: tuple[FakeHelpdesk, str]
) -> None:
    fake, _ = helpdesk
    body = {"ticket": {"id": 777, "latest_comment": {"body": "replayed", "attachments": []}}}
    first = _post(bot, Provider.ZENDESK, body)
    _wait_done(bot, first.json()["job"])
    raw = json.dumps(body).encode()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    replay = httpx.post(
        f"{bot.url}/webhooks/zendesk",
        content=raw,
        headers=sign(Provider.ZENDESK, SECRETS[Provider.ZENDESK], raw, stamp),
    )
    # a replay signed at another second is another delivery of the same body: same job
    assert replay.json()["job"] == first.json()["job"]
    time.sleep(1.0)
    assert len([n for n in fake.notes("zendesk") if n.ticket_id == "777"]) == 1


def test_bad_signature_is_401_and_nothing_is_processed(bot: RunningBot) -> None:
    body = {"ticket_id": "X-1", "text": "should never run"}
    response = _post(bot, Provider.GENERIC, body, secret="wrong-secret")
    assert response.status_code == 401
    time.sleep(0.5)
    assert all("should never run" not in str(r.messages) for r in bot.engine.requests)


def test_attachment_on_a_private_address_is_refused_and_named(
    tiny_engine: TransformersEngine, redis_url: str, helpdesk: tuple[FakeHelpdesk, str]
) -> None:
    fake, url = helpdesk
    with run_bot(tiny_engine, redis_url, **_settings(url, webhook_allowed_networks=[])) as strict:
        response = _post(
            strict,
            Provider.JIRA,
            _bodies(url)[Provider.JIRA]
            | {
                "issue": {
                    "key": "SD-10",
                    "fields": {
                        "summary": "s",
                        "attachment": [{"filename": "err.png", "content": f"{url}/files/err.png"}],
                    },
                }
            },
        )
        view = _wait_done(strict, response.json()["job"])
        assert view["state"] == "done"
        note = next(n for n in fake.notes("jira") if n.ticket_id == "SD-10")
        assert (
            "err.png" in note.body["body"] and "not hosted where I am allowed" in note.body["body"]
        )
        assert strict.engine.requests[-1].images == ()


def test_a_job_interrupted_by_a_restart_is_finished(
    tiny_engine: TransformersEngine, redis_url: str, helpdesk: tuple[FakeHelpdesk, str]
) -> None:
    import asyncio

    fake, url = helpdesk
    prefix = f"supportbot-restart-{time.monotonic_ns()}"
    job = Job(
        "interrupted01",
        "zendesk",
        "888",
        "crashed mid-job",
        (JobAttachment("err.png", f"{url}/files/err.png"),),
    )

    async def crash_mid_job() -> None:
        client = Redis.from_url(redis_url)
        store = RedisJobStore(client, prefix=prefix)
        await store.submit(job)
        assert await store.claim(timeout=1) is not None  # in flight when the process "died"
        await client.aclose()

    asyncio.run(crash_mid_job())
    with run_bot(tiny_engine, redis_url, **_settings(url, redis_key_prefix=prefix)) as restarted:
        view = _wait_done(restarted, "interrupted01")
        assert view["state"] == "done" and view["note_posted"]
    assert [n.ticket_id for n in fake.notes("zendesk")].count("888") == 1


def test_a_helpdesk_outage_is_retried_and_the_note_arrives(
    bot: RunningBot, helpdesk: tuple[FakeHelpdesk, str]
) -> None:
    fake, _ = helpdesk
    fake.fail_notes(2)
    body = {"ticket": {"id": 999, "latest_comment": {"body": "flaky helpdesk", "attachments": []}}}
    view = _wait_done(bot, _post(bot, Provider.ZENDESK, body).json()["job"])
    assert view["state"] == "done" and view["note_posted"]
    assert [n.ticket_id for n in fake.notes("zendesk")].count("999") == 1


def test_unknown_provider_and_unknown_job_are_404(bot: RunningBot) -> None:
    assert httpx.post(f"{bot.url}/webhooks/freshdesk", content=b"{}").status_code == 404
    assert httpx.get(f"{bot.url}/jobs/does-not-exist").status_code == 404
