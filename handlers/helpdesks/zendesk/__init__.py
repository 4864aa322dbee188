"""Zendesk: triggers and event webhooks in, private comments out, tickets for escalations."""

from handlers.helpdesks.zendesk.helpdesk import Zendesk

__all__ = ["Zendesk"]
