"""`supportbot doctor`: check each thing the bot depends on, for real, and say what to fix.

Every check talks to the real thing with the configured settings: Slack's
`auth.test` (token and scopes), a Redis `PING`, the model (found, fits in the
device's free memory, the device itself), clamd's `VERSION`, and each
configured helpdesk's "who am I" endpoint. Nothing is written anywhere.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

import httpx
from redis.exceptions import RedisError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.app.supportbot import redis_address
from bot.settings import Settings
from bot.stores.factory import build_redis
from handlers.slack.token_check import REQUIRED_SCOPES

# One check never holds up the others for long: a host that does not answer fails in this time.
TIMEOUT_SECONDS = 10.0


class Status(StrEnum):
    OK = "ok"
    WARN = "warn"
    FAIL = "FAIL"
    OFF = "off"  # not configured, and that is allowed


@dataclass(frozen=True)
class Check:
    """One row of the report: what was checked, the outcome, what was found, what to do."""

    name: str
    status: Status
    found: str
    fix: str = ""


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def check_settings(settings: Settings) -> Check:
    problems = settings.slack_problems() + settings.engine_problems()
    if problems:
        return Check("settings", Status.FAIL, "; ".join(problems), "set them (env or .env)")
    return Check("settings", Status.OK, "every setting valid; serve has what it needs")


async def check_slack(settings: Settings) -> Check:
    """`auth.test` with the bot token: https://docs.slack.dev/reference/methods/auth.test"""
    if settings.slack_bot_token is None:
        return Check("slack", Status.FAIL, "SLACK_BOT_TOKEN is not set", "set the xoxb- token")
    client = AsyncWebClient(
        token=settings.slack_bot_token.get_secret_value(),
        base_url=settings.slack_api_url,
        timeout=int(TIMEOUT_SECONDS),
    )
    try:
        response = await client.auth_test()
    except SlackApiError as error:
        code = error.response.get("error")
        return Check(
            "slack",
            Status.FAIL,
            f"Slack refused the token: {code}",
            "copy the Bot User OAuth Token (OAuth & Permissions) to SLACK_BOT_TOKEN",
        )
    except (OSError, TimeoutError) as error:
        return Check(
            "slack",
            Status.FAIL,
            f"{settings.slack_api_url} unreachable ({_first_line(error)})",
            "check the network, or SLACK_API_URL",
        )
    granted = {
        scope.strip()
        for scope in (response.headers.get("x-oauth-scopes") or "").split(",")
        if scope.strip()
    }
    who = f"@{response.get('user')} in {response.get('team')}"
    missing = sorted(REQUIRED_SCOPES - granted)
    if missing:
        return Check(
            "slack",
            Status.WARN,
            f"token works ({who}) but lacks {', '.join(missing)}",
            "add the scopes from deploy/slack-app-manifest.yaml and reinstall the app",
        )
    return Check("slack", Status.OK, f"token works ({who}), all {len(REQUIRED_SCOPES)} scopes")


async def check_redis(settings: Settings) -> Check:
    redis = build_redis(settings)
    if redis is None:
        return Check(
            "redis",
            Status.WARN,
            "REDIS_URL unset: history and dedup live in memory, lost on restart",
            "set REDIS_URL for more than one replica or restarts",
        )
    address = redis_address(redis)
    try:
        await asyncio.wait_for(redis.ping(), TIMEOUT_SECONDS)
        info = await redis.info("server")
        return Check("redis", Status.OK, f"{address} answers (Redis {info.get('redis_version')})")
    except (RedisError, OSError, TimeoutError) as error:
        return Check(
            "redis",
            Status.FAIL,
            f"{address} does not answer ({_first_line(error)})",
            "start Redis there, or fix REDIS_URL",
        )
    finally:
        await redis.aclose()


async def check_clamd(settings: Settings) -> Check:
    if settings.clamd_address is None:
        return Check("clamd", Status.OFF, "CLAMD_ADDRESS unset: files are not virus-scanned")
    from bot.safety.virus_scan import ClamdScanner, ScannerUnavailable

    try:
        version = await ClamdScanner(settings.clamd_address, timeout=TIMEOUT_SECONDS).version()
    except ScannerUnavailable as error:
        refused = "refuses files" if not settings.clamd_fail_open else "opens files unscanned"
        return Check(
            "clamd",
            Status.FAIL,
            f"{error}; the bot {refused} while it is down",
            "start clamd there, or fix CLAMD_ADDRESS",
        )
    return Check("clamd", Status.OK, f"{settings.clamd_address} answers ({version})")


async def _who_am_i(
    name: str,
    request: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]],
    *,
    describe: Callable[[httpx.Response], str],
    fix: str,
    transport: httpx.AsyncBaseTransport | None,
) -> Check:
    async with httpx.AsyncClient(transport=transport, timeout=TIMEOUT_SECONDS) as client:
        try:
            response = await request(client)
        except httpx.HTTPError as error:
            return Check(name, Status.FAIL, f"unreachable ({_first_line(error)})", fix)
    if response.status_code in (401, 403):
        return Check(name, Status.FAIL, f"credentials refused ({response.status_code})", fix)
    if response.status_code != 200:
        return Check(name, Status.FAIL, f"answered {response.status_code}", fix)
    try:
        found = describe(response)
    except (ValueError, KeyError, TypeError) as error:
        return Check(name, Status.FAIL, f"unexpected answer ({_first_line(error)})", fix)
    return Check(name, Status.OK, found)


async def check_helpdesks(
    settings: Settings, transport: httpx.AsyncBaseTransport | None = None
) -> list[Check]:
    """Each configured helpdesk's credentials, by asking it who they belong to."""
    checks = []
    if zendesk := settings.zendesk_api():
        # https://developer.zendesk.com/api-reference/ticketing/users/users/#show-self
        # https://developer.zendesk.com/api-reference/introduction/security-and-auth/#api-token
        def zendesk_user(response: httpx.Response) -> str:
            user = response.json()["user"]
            if user.get("id") is None:  # Zendesk answers an anonymous user for no credentials
                raise ValueError("signed in as anonymous")
            return f"signed in as user {user['id']} ({user.get('role', 'unknown role')})"

        checks.append(
            await _who_am_i(
                "zendesk",
                lambda client: client.get(
                    f"{zendesk.base_url.rstrip('/')}/api/v2/users/me.json",
                    auth=(f"{zendesk.email}/token", zendesk.token),
                ),
                describe=zendesk_user,
                fix="check ZENDESK_URL, ZENDESK_EMAIL and ZENDESK_API_TOKEN",
                transport=transport,
            )
        )
    if settings.intercom_token and settings.intercom_admin_id:
        token, admin = settings.intercom_token.get_secret_value(), settings.intercom_admin_id
        # Notes are posted as INTERCOM_ADMIN_ID, so that admin is what is checked:
        # https://developers.intercom.com/docs/references/2.5/rest-api/admins/view-an-admin
        checks.append(
            await _who_am_i(
                "intercom",
                lambda client: client.get(
                    f"{settings.intercom_url.rstrip('/')}/admins/{admin}",
                    headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                ),
                describe=lambda response: f"notes go as admin {response.json()['name']}",
                fix="check INTERCOM_TOKEN and INTERCOM_ADMIN_ID",
                transport=transport,
            )
        )
    if jira := settings.jira_api():
        # https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-myself/
        # https://developer.atlassian.com/cloud/jira/platform/basic-auth-for-rest-apis/
        checks.append(
            await _who_am_i(
                "jira",
                lambda client: client.get(
                    f"{jira.base_url.rstrip('/')}/rest/api/3/myself",
                    auth=(jira.email, jira.token),
                ),
                describe=lambda response: f"signed in as account {response.json()['accountId']}",
                fix="check JIRA_URL, JIRA_EMAIL and JIRA_API_TOKEN",
                transport=transport,
            )
        )
    if not checks:
        checks.append(Check("helpdesks", Status.OFF, "no helpdesk API credentials set"))
    return checks


async def run_checks(
    settings: Settings, *, http_transport: httpx.AsyncBaseTransport | None = None
) -> list[Check]:
    """Every check, in the order an operator fixes things."""
    from bot.app.doctor_model import check_model

    checks = [check_settings(settings), await check_slack(settings), await check_redis(settings)]
    checks += await check_model(settings)
    checks.append(await check_clamd(settings))
    checks += await check_helpdesks(settings, http_transport)
    from bot.app.doctor_knowledge import check_knowledge

    checks += await check_knowledge(settings)
    return checks


def render(checks: list[Check]) -> str:
    """A plain table: one row per check, the fix on its own line under a failing row."""
    width = max(len(check.name) for check in checks)
    lines = []
    for check in checks:
        lines.append(f"{check.name:<{width}}  {check.status.value:<4}  {check.found}")
        if check.fix and check.status in (Status.FAIL, Status.WARN):
            lines.append(f"{'':<{width}}        fix: {check.fix}")
    return "\n".join(lines)


def failed(checks: list[Check]) -> bool:
    return any(check.status is Status.FAIL for check in checks)
