"""Helpdesk deliveries as the vendors really make them: redeliveries with the same delivery
id, 429s with a wait, refusals, lost answers, poison jobs, Jira automation's web request."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from bot.engine.transformers_engine import TransformersEngine
from bot.intake.jobs import Job, JobAttachment
from bot.stores.jobs import RedisJobStore
from handlers.helpdesks.registry import REGISTRY
from tests.support.fake_attachment_host import FakeAttachmentHost
from tests.support.fake_helpdesk import FakeHelpdesk
from tests.support.running_bot import RunningBot, run_bot
from tests.support.serve_process import clean_environment, supportbot_command
from tests.support.servers import ServerThread, free_port
from tests.support.webhook_deliveries import (
    READ_TOKEN,
    SECRETS,
    deliver,
    helpdesk_settings,
    wait_ended,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[FakeHelpdesk, str]]:
    files = FakeAttachmentHost()
    fake = FakeHelpdesk(files)
    with ServerThread(files.app, host="127.0.0.2") as file_server, ServerThread(fake.app) as api:
        files.url, fake.url = file_server.url, api.url
        yield fake, api.url


@pytest.fixture
def helpdesk(served: tuple[FakeHelpdesk, str]) -> Iterator[tuple[FakeHelpdesk, str]]:
    yield served
    fake = served[0]
    assert fake.early_requests == 0, "a request came before the wait a 429 asked for"


@pytest.fixture(scope="module")
def bot(
    tiny_engine: TransformersEngine, redis_url: str, served: tuple[FakeHelpdesk, str]
) -> Iterator[RunningBot]:
    with run_bot(tiny_engine, redis_url, **helpdesk_settings(served[1])) as running:
        yield running


def _ticket_body(fake: FakeHelpdesk, provider: str, ticket: str, text: str) -> dict[str, Any]:
    """The vendor's delivery for a new ticket, with the ticket made on the fake helpdesk."""
    if provider == "zendesk":
        fake.add_zendesk_ticket(int(ticket), text, [])
        return fake.zendesk_trigger_body(int(ticket), updater=555)
    if provider == "intercom":
        return fake.add_intercom_conversation(ticket, text, []) | {"delivery_attempts": 1}
    issue = fake.add_jira_issue(ticket, text, [])
    return {"webhookEvent": "jira:issue_created", "user": {"accountId": "cust-1"}, "issue": issue}


def _attempts(fake: FakeHelpdesk, provider: str, ticket: str) -> list[int]:
    return [status for p, t, status in fake.note_attempts if p == provider and t == ticket]


def _notes(fake: FakeHelpdesk, provider: str, ticket: str) -> list[str]:
    return [n.text for n in fake.notes(provider) if n.ticket_id == ticket]


def _dead_letters(redis_url: str, prefix: str) -> list[str]:
    async def read() -> list[str]:
        client = Redis.from_url(redis_url)
        try:
            return await RedisJobStore(client, prefix=prefix).dead_letters()
        finally:
            await client.aclose()

    return asyncio.run(read())


# -- Jira Service Management automation: "Send web request" ---------------------------


def test_jira_automation_needs_its_token_and_is_answered_as_a_jira_request(
    bot: RunningBot, helpdesk: tuple[FakeHelpdesk, str]
) -> None:
    fake, _ = helpdesk
    # "Issue data (Automation format)": the issue at the top level.
    # https://support.atlassian.com/cloud-automation/docs/issue-data-automation-format-payload-for-send-web-request/
    body = fake.add_jira_issue("SD-40", "VPN client says error 809", [])
    assert deliver(bot, "jira-automation", body, secret="wrong").status_code == 401
    unsigned = httpx.post(f"{bot.url}/webhooks/jira-automation", json=body, timeout=10)
    assert unsigned.status_code == 401
    assert not _attempts(fake, "jira", "SD-40"), "nothing ran for a refused request"

    response = deliver(bot, "jira-automation", body)
    assert response.status_code == 202
    view = wait_ended(bot, response.json()["job"])
    assert view["state"] == "done" and view["provider"] == "jira"
    [note] = _notes(fake, "jira", "SD-40")
    assert "VPN client says error 809" in str(bot.engine.requests[-1].messages)
    assert note.endswith(f"[supportbot job {view['id']}]")


def test_a_jira_automation_token_reads_only_its_issues_own_files_and_no_results(
    bot: RunningBot, helpdesk: tuple[FakeHelpdesk, str]
) -> None:
    fake, _ = helpdesk
    fake.add_jira_issue("SEC-1", "someone else's issue", [("payroll.png", b"\x89PNG private")])
    other = fake.jira_issues["SEC-1"]["fields"]["attachment"][0]
    issue = fake.add_jira_issue("SD-41", "Printer says error 0x80070005", [])
    # A token holder names another issue's attachment in the body.
    body = {"issue": {**issue, "fields": {**issue["fields"], "attachment": [other]}}}
    before = len(fake.requests)
    response = deliver(bot, "jira-automation", body)
    assert response.status_code == 202
    job_url = f"{bot.url}/jobs/{response.json()['job']}"
    view = wait_ended(bot, response.json()["job"])
    assert view["state"] == "done"
    paths = [path for _, path, _ in fake.requests[before:]]
    assert "/rest/api/3/issue/SD-41" in paths, "the issue's attachments are listed from Jira"
    assert f"/rest/api/3/attachment/content/{other['id']}" not in paths
    assert "payroll.png" not in str(bot.engine.requests[-1].messages)
    # Its result is read with JOBS_READ_TOKEN only, not with the token or Jira's secret.
    for secret in (SECRETS["jira-automation"], SECRETS["jira"]):
        assert httpx.get(job_url, headers={"Authorization": f"Bearer {secret}"}).status_code in {
            401,
            404,
        }
    reader = {"Authorization": f"Bearer {READ_TOKEN}"}
    assert httpx.get(job_url, headers=reader).json()["state"] == "done"


def test_a_jira_automation_delivery_replayed_after_its_window_is_refused(
    bot: RunningBot, helpdesk: tuple[FakeHelpdesk, str]
) -> None:
    fake, _ = helpdesk
    body = fake.add_jira_issue("SD-42", "replayed much later", [])
    stale = time.strftime("%Y-%m-%dT%H:%M:%S.0+0000", time.gmtime(time.time() - 3600))
    late = deliver(bot, "jira-automation", body, headers={"X-Supportbot-Timestamp": stale})
    assert late.status_code == 401
    without = deliver(bot, "jira-automation", body, headers={"X-Supportbot-Timestamp": ""})
    assert without.status_code == 401
    assert not _attempts(fake, "jira", "SD-42")


# -- one delivery, one job --------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "ticket", "header"),
    [
        ("zendesk", "3101", "X-Zendesk-Webhook-Invocation-Id"),
        ("jira", "SD-3102", "X-Atlassian-Webhook-Identifier"),
        ("intercom", "3103", None),  # the notification id is in the body
    ],
)
def test_a_redelivery_with_the_same_delivery_id_is_one_job(
    bot: RunningBot,
    helpdesk: tuple[FakeHelpdesk, str],
    provider: str,
    ticket: str,
    header: str | None,
) -> None:
    fake, _ = helpdesk
    first_body = _ticket_body(fake, provider, ticket, "Sync fails with E42")
    # A redelivery whose bytes differ: Intercom counts delivery_attempts in the body.
    # https://developers.intercom.com/docs/references/webhooks/webhook-models
    again_body = first_body | {"delivery_attempts": 2, "timestamp": 1700000000123}
    headers = {header: f"delivery-{ticket}"} if header else {}
    first = deliver(bot, provider, first_body, headers=headers)
    again = deliver(bot, provider, again_body, headers=headers)
    assert first.status_code == 202
    assert again.status_code == 200 and again.json()["duplicate"] is True
    assert again.json()["job"] == first.json()["job"]
    assert wait_ended(bot, first.json()["job"])["state"] == "done"
    assert len(_notes(fake, provider, ticket)) == 1


def test_another_delivery_id_with_another_body_is_another_job(
    bot: RunningBot, helpdesk: tuple[FakeHelpdesk, str]
) -> None:
    fake, _ = helpdesk
    header = "X-Zendesk-Webhook-Invocation-Id"
    one = deliver(
        bot,
        "zendesk",
        _ticket_body(fake, "zendesk", "3201", "a"),
        headers={header: "a1"},
    )
    two_body = _ticket_body(fake, "zendesk", "3201", "b")
    two = deliver(bot, "zendesk", two_body, headers={header: "a2"})
    assert one.json()["job"] != two.json()["job"] and two.status_code == 202
    for response in (one, two):
        assert wait_ended(bot, response.json()["job"])["state"] == "done"
    assert len(_notes(fake, "zendesk", "3201")) == 2


# -- outbound calls -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("provider", "ticket"),
    [("zendesk", "3301"), ("jira", "SD-3302"), ("intercom", "3303")],
)
def test_a_429_is_retried_no_sooner_than_the_vendor_asked(
    bot: RunningBot, helpdesk: tuple[FakeHelpdesk, str], provider: str, ticket: str
) -> None:
    fake, _ = helpdesk
    fake.throttle_notes(1, retry_after=2)
    response = deliver(bot, provider, _ticket_body(fake, provider, ticket, "Export times out"))
    view = wait_ended(bot, response.json()["job"])
    assert view["state"] == "done" and view["attempts"] == 2
    assert _attempts(fake, provider, ticket)[0] == 429
    assert len(_notes(fake, provider, ticket)) == 1
    assert fake.early_requests == 0, "a request came before the wait the 429 asked for"
    if provider == "intercom":
        # Intercom sends no Retry-After, only X-RateLimit-Reset.
        assert fake.note_attempts and "retry-after" not in str(fake.requests[-1])


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_a_refusal_is_not_retried_and_the_job_is_dead_lettered(
    bot: RunningBot, helpdesk: tuple[FakeHelpdesk, str], redis_url: str, status: int
) -> None:
    fake, _ = helpdesk
    ticket = f"34{status}"
    fake.fail_notes(1, status=status)
    response = deliver(bot, "zendesk", _ticket_body(fake, "zendesk", ticket, "Refused"))
    job_id = response.json()["job"]
    view = wait_ended(bot, job_id)
    assert view["state"] == "dead" and view["attempts"] == 1
    assert str(status) in view["error"] and "not retried" in view["error"]
    assert _attempts(fake, "zendesk", ticket) == [status], "a refusal was sent again"
    assert job_id in _dead_letters(redis_url, bot.redis_prefix)
    metrics = httpx.get(f"{bot.url}/metrics").text
    assert 'supportbot_helpdesk_jobs_total{outcome="dead_lettered",provider="zendesk"}' in metrics


@pytest.mark.parametrize(
    ("provider", "ticket"),
    [("zendesk", "3501"), ("jira", "SD-3502"), ("intercom", "3503")],
)
def test_a_note_whose_answer_was_lost_is_not_posted_again(
    bot: RunningBot, helpdesk: tuple[FakeHelpdesk, str], provider: str, ticket: str
) -> None:
    fake, _ = helpdesk
    fake.answer_notes_slowly(5.0)  # longer than HELPDESK_TIMEOUT_SECONDS (2)
    response = deliver(bot, provider, _ticket_body(fake, provider, ticket, "Upload hangs"))
    view = wait_ended(bot, response.json()["job"])
    assert view["state"] == "done" and view["attempts"] == 2
    assert len(_notes(fake, provider, ticket)) == 1, "the note was doubled"
    assert len(_attempts(fake, provider, ticket)) == 1


def test_a_note_that_keeps_failing_is_dead_lettered_after_its_attempts(
    tiny_engine: TransformersEngine, redis_url: str, helpdesk: tuple[FakeHelpdesk, str]
) -> None:
    fake, url = helpdesk
    settings = helpdesk_settings(url, helpdesk_job_attempts=3)
    with run_bot(tiny_engine, redis_url, **settings) as strict:
        fake.fail_notes(3, status=503)
        response = deliver(strict, "jira", _ticket_body(fake, "jira", "SD-3601", "x"))
        view = wait_ended(strict, response.json()["job"])
        metrics = httpx.get(f"{strict.url}/metrics").text
    assert view["state"] == "dead" and view["attempts"] == 3
    assert view["error"].startswith("gave up after 3 attempts") and "503" in view["error"]
    assert _attempts(fake, "jira", "SD-3601") == [503, 503, 503]
    assert 'supportbot_helpdesk_job_retries_total{provider="jira"} 2.0' in metrics
    assert 'supportbot_helpdesk_jobs_total{outcome="dead_lettered",provider="jira"} 1.0' in metrics


# -- no poison job stops the runner (a restart included) -----------------------------------


def test_poison_jobs_end_with_their_reason_and_the_runner_keeps_working(
    tiny_engine: TransformersEngine,
    redis_url: str,
    helpdesk: tuple[FakeHelpdesk, str],
    redis_prefix: str,
) -> None:
    fake, url = helpdesk
    good_attachment = JobAttachment("err.png", f"{url}/files/missing.png")
    poison = [
        Job("poison-newline", "zendesk", "12\n3", "a ticket id with a line break"),
        Job("poison-url", "zendesk", "3701", "bad link", (JobAttachment("a.png", "http://[::1"),)),
    ]
    # In flight when the process died on its last allowed attempt: it must not run again.
    exhausted = Job("exhausted", "zendesk", "3702", "killed the process", attempts=3)
    good = Job("good-after", "zendesk", "3703", "a normal ticket", (good_attachment,))

    async def record() -> None:
        client = Redis.from_url(redis_url)
        store = RedisJobStore(client, prefix=redis_prefix)
        await store.submit(exhausted)
        assert await store.claim(timeout=1) is not None
        for job in [*poison, good]:
            await store.submit(job)
        await client.aclose()

    asyncio.run(record())
    settings = helpdesk_settings(
        url, redis_key_prefix=redis_prefix, helpdesk_job_attempts=3, job_lease_seconds=2
    )
    with run_bot(tiny_engine, redis_url, **settings) as restarted:
        views = {job.id: wait_ended(restarted, job.id) for job in [*poison, exhausted, good]}
    for job in poison:
        assert views[job.id]["state"] in {"dead", "done"} and (
            views[job.id]["state"] == "done" or views[job.id]["error"]
        )
    assert views["poison-newline"]["state"] == "dead"
    assert "format" in views["poison-newline"]["error"]  # refused before any request
    assert views["exhausted"]["state"] == "dead"
    assert views["exhausted"]["error"].startswith("gave up after 3 attempts")
    assert not _notes(fake, "zendesk", "3702")
    assert views["good-after"]["state"] == "done"
    assert len(_notes(fake, "zendesk", "3703")) == 1
    assert {"poison-newline", "exhausted"} <= set(_dead_letters(redis_url, redis_prefix))


# -- supportbot send-test ------------------------------------------------------------------


def _send_test(bot: RunningBot | str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    url = bot if isinstance(bot, str) else bot.url
    return subprocess.run(
        supportbot_command("send-test", *args, "--url", url, "--wait", "60"),
        env=clean_environment(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("provider", "ticket", "variable"),
    [
        ("zendesk", "3801", "ZENDESK_WEBHOOK_SECRET"),
        ("intercom", "3802", "INTERCOM_WEBHOOK_SECRET"),
        ("jira", "SD-3803", "JIRA_WEBHOOK_SECRET"),
        ("jira-automation", "SD-3804", "JIRA_AUTOMATION_SECRET"),
    ],
)
def test_send_test_checks_a_connection_end_to_end(
    bot: RunningBot,
    helpdesk: tuple[FakeHelpdesk, str],
    provider: str,
    ticket: str,
    variable: str,
) -> None:
    fake, _ = helpdesk
    if REGISTRY.helpdesk_name(provider) == "jira":
        fake.add_jira_issue(ticket, "the test ticket", [])
    # A Jira automation job's result is read only with JOBS_READ_TOKEN.
    reader = {"JOBS_READ_TOKEN": READ_TOKEN} if provider == "jira-automation" else {}
    result = _send_test(
        bot, provider, "--ticket", ticket, **{variable: SECRETS[provider]}, **reader
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "-> 202" in result.stdout and "state: done" in result.stdout
    assert "the bot received, diagnosed and answered the test ticket" in result.stdout
    [note] = _notes(fake, REGISTRY.helpdesk_name(provider), ticket)
    job_id = next(
        line.split()[1].rstrip(":")
        for line in result.stdout.splitlines()
        if line.startswith("job ")
    )
    assert f"[supportbot job {job_id}]" in note


def test_send_test_says_when_the_bot_refuses_the_delivery(bot: RunningBot) -> None:
    refused = _send_test(bot, "zendesk", "--ticket", "3805", ZENDESK_WEBHOOK_SECRET="wrong")
    assert refused.returncode == 1 and "-> 401" in refused.stdout
    assert "did not take the delivery (401)" in refused.stderr
    unset = _send_test(bot, "jira-automation", "--ticket", "SD-1")
    assert unset.returncode == 2 and "JIRA_AUTOMATION_SECRET is not set" in unset.stderr


def test_send_test_refuses_to_send_its_secret_over_plain_http_to_another_machine() -> None:
    refused = _send_test(
        "http://bot.example.com:3000",
        "zendesk",
        "--ticket",
        "3806",
        ZENDESK_WEBHOOK_SECRET=SECRETS["zendesk"],
    )
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.strip() == (
        "supportbot: refusing to send the webhook secret over plain http to bot.example.com: "
        "use an https --url, or run send-test on the bot's own machine"
    )


def test_send_test_says_in_one_line_when_the_bot_cannot_be_reached() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = _send_test(
        url, "zendesk", "--ticket", "3807", ZENDESK_WEBHOOK_SECRET=SECRETS["zendesk"]
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"supportbot: the bot cannot be reached at {url} (ConnectError")


def test_send_test_fails_and_names_the_settings_when_no_note_was_posted(
    tiny_engine: TransformersEngine, redis_url: str, served: tuple[FakeHelpdesk, str]
) -> None:
    settings = helpdesk_settings(served[1], zendesk_url=None, zendesk_api_token=None)
    with run_bot(tiny_engine, redis_url, **settings) as no_notes:
        result = _send_test(
            no_notes,
            "zendesk",
            "--ticket",
            "3808",
            ZENDESK_WEBHOOK_SECRET=SECRETS["zendesk"],
        )
    assert "state: done" in result.stdout and "note_posted: False" in result.stdout
    assert result.returncode == 1
    assert (
        "no note was posted: zendesk notes need ZENDESK_URL, ZENDESK_EMAIL, ZENDESK_API_TOKEN"
        in result.stderr
    )
