"""`supportbot doctor`: check each thing the bot depends on, for real, and say what to fix.

Every check talks to the real thing with the configured settings: Slack's
`auth.test` (token and scopes), a Redis `PING`, the model (found, fits in the
device's free memory, the device itself), clamd's `VERSION`, and each
configured helpdesk's "who am I" endpoint; with a webhook on, the helpdesk jobs that were
dead-lettered. Nothing is written anywhere.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

import httpx
from redis.exceptions import RedisError
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.app.supportbot import redis_address
from bot.errors import first_line
from bot.printable_urls import printable_url, without_userinfo
from bot.settings import Settings
from bot.stores.factory import build_redis
from bot.stores.jobs import RedisJobStore
from handlers.helpdesks.base import Connection, Helpdesk
from handlers.helpdesks.registry import REGISTRY, HelpdeskSettings
from handlers.slack.token_check import REQUIRED_SCOPES, granted_scopes, missing_scopes

# One check never holds up the others for long: a host that does not answer fails in this time.
TIMEOUT_SECONDS = 10.0
# Dead letters counted at most (the list keeps 1,000): past this, the row says "100+".
DEAD_LETTERS_READ = 100


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
    except (OSError, TimeoutError, ValueError) as error:
        # ValueError: slack_sdk refuses a URL it cannot send (credentials in it, say).
        return Check(
            "slack",
            Status.FAIL,
            without_userinfo(
                f"{printable_url(settings.slack_api_url)} unreachable ({first_line(error)})"
            ),
            "check the network, or SLACK_API_URL",
        )
    who = f"@{response.get('user')} in {response.get('team')}"
    # An app installed from an older manifest: name each scope to add.
    missing = missing_scopes(granted_scopes(response.headers))
    if missing:
        return Check(
            "slack",
            Status.WARN,
            f"token works ({who}) but lacks {', '.join(missing)}",
            f"add {', '.join(missing)} under OAuth & Permissions → Bot Token Scopes (as in "
            "deploy/slack-app-manifest.yaml) and reinstall the app",
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
            f"{address} does not answer ({first_line(error)})",
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
    helpdesk: Helpdesk[Any],
    connection: Connection,
    desks: HelpdeskSettings,
    transport: httpx.AsyncBaseTransport | None,
) -> Check:
    name, check = helpdesk.name, helpdesk.identity_check(desks[helpdesk.name])
    # The vendor's own configured client, with doctor's shorter patience.
    client = replace(connection, timeout=min(connection.timeout, TIMEOUT_SECONDS)).client(transport)
    async with client:
        try:
            response = await check.request(client)
        except httpx.HTTPError as error:
            return Check(name, Status.FAIL, f"unreachable ({first_line(error)})", check.fix)
    if response.status_code in (401, 403):
        return Check(name, Status.FAIL, f"credentials refused ({response.status_code})", check.fix)
    if response.status_code != 200:
        return Check(name, Status.FAIL, f"answered {response.status_code}", check.fix)
    try:
        found = check.describe(response)
    except (ValueError, KeyError, TypeError) as error:
        return Check(name, Status.FAIL, f"unexpected answer ({first_line(error)})", check.fix)
    return Check(name, Status.OK, found)


async def check_helpdesks(
    settings: Settings,
    desks: HelpdeskSettings,
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[Check]:
    """Each configured helpdesk's credentials, by asking it who they belong to; and each
    webhook that is on while its helpdesk's API credentials are not all set."""
    checks = []
    for helpdesk in REGISTRY.helpdesks:
        if (connection := helpdesk.connection(desks[helpdesk.name], settings)) is not None:
            checks.append(await _who_am_i(helpdesk, connection, desks, transport))
    for provider, missing in REGISTRY.webhooks_without_notes(desks).items():
        checks.append(
            Check(
                f"{provider}-webhook",
                Status.WARN,
                "on, but its notes cannot be posted (tickets are diagnosed, nobody sees it)",
                f"set {', '.join(missing)}",
            )
        )
    if not checks:
        checks.append(Check("helpdesks", Status.OFF, "no helpdesk API credentials set"))
    return checks


async def check_dead_letters(settings: Settings, desks: HelpdeskSettings) -> list[Check]:
    """The helpdesk jobs that ended dead-lettered (none is retried again: an operator reads
    why and delivers the ticket anew); no row while no webhook is on or Redis is unset."""
    redis = build_redis(settings)
    if redis is None or not REGISTRY.webhook_secrets(desks):
        return []
    jobs = RedisJobStore(redis, prefix=settings.redis_key_prefix)
    try:
        dead = await asyncio.wait_for(jobs.dead_letters(DEAD_LETTERS_READ), TIMEOUT_SECONDS)
        newest = await jobs.get(dead[0]) if dead else None
    except (RedisError, OSError, TimeoutError):
        return []  # the redis row already says Redis does not answer
    finally:
        await redis.aclose()
    if not dead:
        return [Check("dead-letters", Status.OK, "no helpdesk job was dead-lettered")]
    count = f"{len(dead)}+" if len(dead) == DEAD_LETTERS_READ else str(len(dead))
    lines = (newest.error or "").strip().splitlines() if newest is not None else []
    why = lines[0][:200] if lines else "no reason kept"  # an error may quote a vendor's answer
    return [
        Check(
            "dead-letters",
            Status.WARN,
            f"{count} helpdesk jobs dead-lettered; the newest, {dead[0]}: {why}",
            "read each with GET /jobs/{id}; docs/helpdesks.md says what each error means",
        )
    ]


async def run_checks(
    settings: Settings,
    *,
    helpdesk_settings: HelpdeskSettings | None = None,
    http_transport: httpx.AsyncBaseTransport | None = None,
) -> list[Check]:
    """Every check, in the order an operator fixes things; each helpdesk's own settings are
    read from the environment beside `settings` when `helpdesk_settings` is None."""
    desks = helpdesk_settings if helpdesk_settings is not None else REGISTRY.settings()
    checks = [check_settings(settings), await check_slack(settings), await check_redis(settings)]
    checks += await _check_engine(settings)
    checks.append(await check_clamd(settings))
    checks += await check_helpdesks(settings, desks, http_transport)
    checks += await check_dead_letters(settings, desks)
    from bot.app.doctor_knowledge import check_knowledge

    checks += await check_knowledge(settings, REGISTRY.article_credentials(desks))
    return checks


async def _check_engine(settings: Settings) -> list[Check]:
    # Each engine's checks are imported only when chosen: the local one imports torch.
    from bot.app.engine import LOCAL_EXTRA_INSTALL, local_engine_missing
    from bot.settings import EngineKind

    if settings.engine is EngineKind.REMOTE:
        from bot.app.doctor_remote import check_remote

        return await check_remote(settings)
    if missing := local_engine_missing():
        return [
            Check(
                "model",
                Status.FAIL,
                f"ENGINE=local needs {', '.join(missing)}, not installed here",
                f"{LOCAL_EXTRA_INSTALL}, or ENGINE=remote with ENGINE_URL",
            )
        ]
    from bot.app.doctor_model import check_model

    return await check_model(settings)


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
