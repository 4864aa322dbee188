"""Intercom: conversation notifications in, admin notes out."""

from handlers.helpdesks.intercom.helpdesk import Intercom

__all__ = ["Intercom"]
