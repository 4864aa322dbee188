"""At start-up: does the bot token work, and which scopes is it missing?"""

from __future__ import annotations

import logging
from collections.abc import Mapping

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
        "groups:read",
        "files:write",
        "commands",
        "assistant:write",
        "usergroups:read",
    }
)


def granted_scopes(headers: Mapping[str, str]) -> frozenset[str]:
    """The bot token's scopes, as `auth.test` lists them in its `x-oauth-scopes` header
    (https://docs.slack.dev/reference/methods/auth.test; https://docs.slack.dev/authentication/
    tokens#scopes). Empty when the header is absent."""
    listed = headers.get("x-oauth-scopes") or headers.get("X-OAuth-Scopes") or ""
    return frozenset(scope.strip() for scope in listed.split(",") if scope.strip())


def missing_scopes(granted: frozenset[str]) -> list[str]:
    """The scopes of deploy/slack-app-manifest.yaml the token lacks, sorted."""
    return sorted(REQUIRED_SCOPES - granted)


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
    granted = granted_scopes(response.headers)
    missing = set(missing_scopes(granted)) if granted else set()
    log.info("connected to Slack as %s in %s", response.get("user"), response.get("team"))
    if missing:
        log.warning(
            "the bot token lacks scopes %s; some answers will fail", ", ".join(sorted(missing))
        )
    return missing
