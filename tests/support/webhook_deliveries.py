"""Send signed helpdesk deliveries to a running bot and wait for their jobs, as the vendors do."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from handlers.helpdesks.registry import REGISTRY
from tests.support.running_bot import RunningBot

SECRETS = {p: f"{p}-webhook-secret" for p in REGISTRY.routes}
READ_TOKEN = "jobs-read-token"
ENDED = {"done", "dead", "failed"}


def helpdesk_settings(helpdesk_url: str, **extra: Any) -> dict[str, Any]:
    """Every vendor pointed at the fake helpdesk, with quick retries for tests."""
    return {
        "zendesk_webhook_secret": SECRETS["zendesk"],
        "zendesk_url": helpdesk_url,
        "zendesk_email": "agent@acme.test",
        "zendesk_api_token": "zd-token",
        "intercom_webhook_secret": SECRETS["intercom"],
        "intercom_url": helpdesk_url,
        "intercom_token": "ic-token",
        "intercom_admin_id": "991",
        "jira_webhook_secret": SECRETS["jira"],
        "jira_automation_secret": SECRETS["jira-automation"],
        "jira_url": helpdesk_url,
        "jira_email": "agent@acme.test",
        "jira_api_token": "jira-token",
        "generic_webhook_secret": SECRETS["generic"],
        # the API on 127.0.0.1, the vendors' file host on 127.0.0.2
        "webhook_attachment_hosts": ["127.0.0.1", "127.0.0.2"],
        "webhook_allowed_networks": ["127.0.0.0/8"],
        "jobs_read_token": READ_TOKEN,
        "helpdesk_retry_seconds": 0.2,
        "helpdesk_timeout_seconds": 2.0,
        **extra,
    }


def deliver(
    bot: RunningBot,
    provider: str,
    body: dict[str, Any],
    *,
    secret: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST `body` to `/webhooks/{provider}` signed as the vendor signs it."""
    raw = json.dumps(body).encode()
    stamp = (
        time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        if provider == "zendesk"
        else str(int(time.time()))
    )
    sent = REGISTRY.sign(provider, secret or SECRETS[provider], raw, stamp) | {
        "Content-Type": "application/json"
    }
    return httpx.post(
        f"{bot.url}/webhooks/{provider}",
        content=raw,
        headers=sent | (headers or {}),
        timeout=10,
    )


def wait_ended(bot: RunningBot, job_id: str) -> dict[str, Any]:
    """The job's view once it is done or dead-lettered."""

    def ended() -> dict[str, Any] | None:
        view: dict[str, Any] = httpx.get(
            f"{bot.url}/jobs/{job_id}", headers={"Authorization": f"Bearer {READ_TOKEN}"}
        ).json()
        return view if view.get("state") in ENDED else None

    return bot.slack.wait_for(ended)
