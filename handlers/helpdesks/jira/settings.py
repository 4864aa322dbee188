"""Jira Service Management's settings: its webhook's secret, the automation rule's token and
the API account (also the Confluence article sources' account: one Atlassian account)."""

from __future__ import annotations

from pydantic import SecretStr

from handlers.helpdesks.base import AccountEmail, ApiBaseUrl, VendorSettings


class JiraSettings(VendorSettings):
    jira_webhook_secret: SecretStr | None = None
    # Jira Service Management automation's "Send web request" (no signature): the
    # value of its X-Supportbot-Token header.
    jira_automation_secret: SecretStr | None = None
    jira_url: ApiBaseUrl | None = None
    jira_email: AccountEmail | None = None
    jira_api_token: SecretStr | None = None
