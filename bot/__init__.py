"""supportbot: diagnoses error screenshots posted in Slack and helpdesk tickets."""

__version__ = "0.1.0"
