"""Stores over Redis, and in-memory ones for running without Redis.

Each module implements one Protocol declared where it is used
(`bot.conversation`, `bot.intake`). Every Redis key pattern is declared once,
with its owner, TTL and contents, in `bot.stores.keys`. `resilience` keeps the
answer path working while Redis is down. May import `bot.conversation`,
`bot.intake`, `bot.observability`; never `handlers`.
"""
