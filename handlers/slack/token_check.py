"""At start-up: does the bot token work, and which scopes is it missing?"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)

# Every scope a feature of the bot uses; deploy/slack-app-manifest.yaml asks for exactly these.
REQUIRED_SCOPES = frozenset(
    {
        "app_mentions:read",
        "channels:history",
        "groups:history",
        "im:history",
        "chat:write",
        "files:read",
        "reactions:write",
        "users:read",
        "channels:read",
        "files:write",
        "commands",
        "assistant:write",
        "usergroups:read",
    }
)


async def check_token(client: AsyncWebClient) -> set[str] | None:
    """Call `auth.test`; log who we are and the missing scopes. None when the token fails."""
    try:
        response = await client.auth_test()
    except SlackApiError as error:
        log.error("SLACK_BOT_TOKEN was rejected by Slack: %s", error.response.get("error"))
        return None
    except OSError as error:
        log.error("could not reach Slack to check the token: %s", error)
        return None
    granted = {
        scope.strip()
        for scope in (response.headers.get("x-oauth-scopes") or "").split(",")
        if scope.strip()
    }
    missing = set(REQUIRED_SCOPES - granted) if granted else set()
    log.info("connected to Slack as %s in %s", response.get("user"), response.get("team"))
    if missing:
        log.warning(
            "the bot token lacks scopes %s; some answers will fail", ", ".join(sorted(missing))
        )
    return missing
