"""The generic webhook: signed JSON in, the answer read from `GET /jobs/{id}`."""

from handlers.helpdesks.generic.helpdesk import Generic

__all__ = ["Generic"]
