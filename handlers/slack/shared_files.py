"""Files shared over Slack Connect: the event carries only a stub, `files.info` the file.

In a Slack Connect conversation a message's file may arrive as
`{"id": ..., "mode": "file_access", "file_access": "check_file_info"}`, without its
name or download URL; `files.info` (scope `files:read`) returns the whole file object
(https://docs.slack.dev/reference/events/message/file_share, "Slack Connect files";
https://docs.slack.dev/reference/methods/files.info).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)


def needs_file_info(file: dict[str, Any]) -> bool:
    return file.get("file_access") == "check_file_info" and bool(file.get("id"))


async def with_shared_files(client: AsyncWebClient, event: dict[str, Any]) -> dict[str, Any]:
    """`event` with each Slack Connect file stub replaced by its `files.info` file object.

    A stub Slack will not describe (file_not_found, not_visible…) stays as it is, and the
    answer says that file was not shared with the bot.
    """
    files = event.get("files") or []
    if not any(needs_file_info(f) for f in files):
        return event
    resolved = []
    for file in files:
        if needs_file_info(file):
            try:
                response = await client.files_info(file=str(file["id"]))
                file = dict(response["file"])
            except SlackApiError as error:
                log.info("files.info refused %s: %s", file["id"], error.response.get("error"))
        resolved.append(file)
    return event | {"files": resolved}
