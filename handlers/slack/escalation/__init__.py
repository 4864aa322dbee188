"""Hand a thread to people: the workflow, its Slack views, and the listeners that start it."""

from handlers.slack.escalation.listeners import register_escalation
from handlers.slack.escalation.workflow import EscalationDesk

__all__ = ["EscalationDesk", "register_escalation"]
