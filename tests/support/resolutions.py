"""A past resolution from a given conversation, as the escalation desk records one."""

from __future__ import annotations

from bot.conversation.knowledge import Conversation, Resolution


def resolution_in(
    channel: str,
    kind: Conversation,
    *,
    workspace: str = "T1",
    error: str = "ACME-4012 vault token expired during deploy",
    fix: str | None = None,
) -> Resolution:
    """Resolved in `channel` of `workspace`, a conversation of `kind`; the fix names the
    channel unless given, so a test can tell which one it drew on."""
    return Resolution(
        error_text=error,
        diagnosis="the token's TTL ran out",
        resolution=fix or f"renew it (from {channel})",
        resolved_by="U9",
        thread=f"{workspace}:{channel}:1.1",
        workspace=workspace,
        channel=channel,
        conversation=kind,
    )
