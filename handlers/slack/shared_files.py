"""Files the event does not hand over as they are: Slack Connect stubs, and shared messages' files.

In a Slack Connect conversation a message's file may arrive as
`{"id": ..., "mode": "file_access", "file_access": "check_file_info"}`, without its
name or download URL; `files.info` (scope `files:read`) returns the whole file object
(https://docs.slack.dev/reference/events/message/file_share, "Slack Connect files";
https://docs.slack.dev/reference/methods/files.info).

A message shared (forwarded) into the question carries the files of its original, which may
sit in a private channel the asker cannot see. Such a file is read only when `files.info`
says it is shared in the conversation the question was asked in: the file object's
`channels`, `groups` and `ims` lists, and the keys of `shares.public` / `shares.private`
(https://docs.slack.dev/reference/objects/file-object). Otherwise it stays a stub and the
answer says it was not shared with the bot. The stored docs do not say whether forwarding a
message shares its files into the destination; the rule holds either way.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger(__name__)


def needs_file_info(file: Mapping[str, Any]) -> bool:
    return file.get("file_access") == "check_file_info" and bool(file.get("id"))


def shared_in(file: Mapping[str, Any], conversation: str) -> bool:
    """Whether a `files.info` file object says it is shared in `conversation`."""
    for listing in ("channels", "groups", "ims"):
        if conversation in (file.get(listing) or ()):
            return True
    shares = file.get("shares") or {}
    return any(conversation in (shares.get(kind) or {}) for kind in ("public", "private"))


def _not_shared(file: Mapping[str, Any]) -> dict[str, Any]:
    """A stub `attachment_from_file` reads as a file not shared with the bot (no URL)."""
    name = str(file.get("name") or file.get("title") or file.get("id") or "file")
    return {"id": file.get("id"), "name": name, "file_access": "check_file_info"}


async def with_shared_files(client: AsyncWebClient, event: dict[str, Any]) -> dict[str, Any]:
    """`event` with each Slack Connect file stub replaced by its `files.info` file object.

    A stub Slack will not describe (file_not_found, not_visible…) stays as it is, and the
    answer says that file was not shared with the bot.
    """
    event = await _with_checked_shares(client, event)
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


async def _with_checked_shares(client: AsyncWebClient, event: dict[str, Any]) -> dict[str, Any]:
    """`event` with each shared message's files kept only where shared in this conversation."""
    attachments = event.get("attachments")
    if not isinstance(attachments, list):
        return event
    conversation = str(event.get("channel") or "")
    checked: list[Any] = []
    for attachment in attachments:
        if isinstance(attachment, Mapping) and attachment.get("files"):
            files = [
                await _checked(client, f, conversation)
                for f in attachment["files"]
                if isinstance(f, Mapping)
            ]
            attachment = dict(attachment) | {"files": files}
        checked.append(attachment)
    return event | {"attachments": checked}


async def _checked(
    client: AsyncWebClient, file: Mapping[str, Any], conversation: str
) -> dict[str, Any]:
    if not file.get("id") or not conversation:
        return _not_shared(file)
    try:
        info = dict((await client.files_info(file=str(file["id"])))["file"])
    except SlackApiError as error:  # not visible to the bot, or no files:read: not read
        log.info("files.info refused shared file %s: %s", file["id"], error.response.get("error"))
        return _not_shared(file)
    if not shared_in(info, conversation):
        log.info("shared file %s is not shared in %s: not read", file["id"], conversation)
        return _not_shared(file)
    return info
