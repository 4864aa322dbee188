"""Helpdesk webhooks: tickets in (signed), diagnoses back out as internal notes."""
