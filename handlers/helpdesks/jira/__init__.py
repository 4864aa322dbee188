"""Jira Service Management: its webhook and automation rule in, internal comments out."""

from handlers.helpdesks.jira.helpdesk import Jira

__all__ = ["Jira"]
