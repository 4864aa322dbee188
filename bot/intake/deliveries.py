"""Remember each helpdesk delivery by the id its vendor gave it, so a redelivery makes no new job.

The body is not enough: Intercom counts `delivery_attempts` inside the body, so a
redelivered notification has other bytes than the first. Each vendor names a
delivery: Zendesk's `X-Zendesk-Webhook-Invocation-Id`, Jira's
`X-Atlassian-Webhook-Identifier` ("unchanged across retries"), Intercom's
notification `id`. Jobs are still also keyed by the body.
"""

from __future__ import annotations

from typing import Protocol

# Longer than any vendor keeps retrying one delivery (hours, not days).
DEFAULT_TTL_SECONDS = 7 * 24 * 3600


class DeliveryLog(Protocol):
    async def claim(self, provider: str, delivery_id: str, job_id: str) -> str | None:
        """Record that this delivery made job `job_id`. None the first time; after that,
        the job id recorded the first time."""
        ...
