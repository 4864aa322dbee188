from __future__ import annotations

from redis.asyncio import Redis

from bot.app.doctor import Status, check_dead_letters, check_helpdesks
from bot.intake.jobs import Job, JobState
from bot.settings import Settings
from bot.stores.jobs import RedisJobStore
from handlers.helpdesks.registry import REGISTRY
from tests.support.fake_helpdesk import (
    INTERCOM_ADMIN,
    INTERCOM_TOKEN,
    JIRA_BOT_ACCOUNT,
    JIRA_EMAIL,
    JIRA_TOKEN,
    ZENDESK_BOT_USER,
    ZENDESK_EMAIL,
    ZENDESK_TOKEN,
    FakeHelpdesk,
)
from tests.support.servers import ServerThread

SHARED = Settings(_env_file=None)


async def test_doctor_warns_when_a_webhook_is_on_but_notes_cannot_be_posted() -> None:
    desks = REGISTRY.settings(
        _env_file=None, zendesk_webhook_secret="zd", zendesk_url="https://z.test"
    )
    [row] = await check_helpdesks(SHARED, desks)
    assert (row.name, row.status) == ("zendesk-webhook", Status.WARN)
    assert "notes cannot be posted" in row.found
    assert row.fix == "set ZENDESK_EMAIL, ZENDESK_API_TOKEN"


async def test_doctor_is_quiet_about_helpdesks_nobody_turned_on() -> None:
    [row] = await check_helpdesks(SHARED, REGISTRY.settings(_env_file=None))
    assert (row.name, row.status) == ("helpdesks", Status.OFF)


async def test_doctor_asks_each_helpdesk_through_its_own_client() -> None:
    # The skipped-without-clamd scenario checks the same rows; this needs only the fake.
    with ServerThread(FakeHelpdesk().app) as api:
        desks = REGISTRY.settings(
            _env_file=None,
            zendesk_url=api.url,
            zendesk_email=ZENDESK_EMAIL,
            zendesk_api_token=ZENDESK_TOKEN,
            intercom_url=api.url,
            intercom_token=INTERCOM_TOKEN,
            intercom_admin_id=INTERCOM_ADMIN,
            jira_url=api.url,
            jira_email=JIRA_EMAIL,
            jira_api_token=JIRA_TOKEN,
        )
        rows = {row.name: (row.status, row.found) for row in await check_helpdesks(SHARED, desks)}
        wrong = REGISTRY.settings(
            _env_file=None, jira_url=api.url, jira_email=JIRA_EMAIL, jira_api_token="x"
        )
        [refused] = await check_helpdesks(SHARED, wrong)
    assert rows == {
        "zendesk": (Status.OK, f"signed in as user {ZENDESK_BOT_USER} (agent)"),
        "jira": (Status.OK, f"signed in as account {JIRA_BOT_ACCOUNT}"),
        "intercom": (Status.OK, "notes go as admin Support Bot"),
    }
    assert (refused.status, refused.found) == (Status.FAIL, "credentials refused (401)")


async def test_doctor_names_the_dead_lettered_jobs_and_the_newest_ones_reason(
    redis: Redis, redis_url: str, redis_prefix: str
) -> None:
    settings = Settings(_env_file=None, redis_url=redis_url, redis_key_prefix=redis_prefix)
    desks = REGISTRY.settings(_env_file=None, generic_webhook_secret="g")
    assert [(r.name, r.status) for r in await check_dead_letters(settings, desks)] == [
        ("dead-letters", Status.OK)
    ]
    jobs = RedisJobStore(redis, prefix=redis_prefix)
    await jobs.start()
    for job_id, error in (("old", "timed out"), ("new", "zendesk answered 403\n(not retried)")):
        await jobs.submit(Job(job_id, "generic", "G-1", "help"))
        claimed = await jobs.claim(timeout=1)
        assert claimed is not None
        await jobs.bury(claimed.moved(JobState.DEAD, error=error))
    [row] = await check_dead_letters(settings, desks)
    assert (row.name, row.status) == ("dead-letters", Status.WARN)
    assert row.found == "2 helpdesk jobs dead-lettered; the newest, new: zendesk answered 403"
    assert "GET /jobs/{id}" in row.fix


async def test_doctor_says_nothing_of_dead_letters_without_a_webhook(redis_url: str) -> None:
    settings = Settings(_env_file=None, redis_url=redis_url)
    assert await check_dead_letters(settings, REGISTRY.settings(_env_file=None)) == []
