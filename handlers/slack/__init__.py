"""Slack: events in (HTTP or Socket Mode), threaded mrkdwn replies out."""
