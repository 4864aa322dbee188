"""Transports: translate Slack and helpdesk traffic into `bot` turns and back."""
