"""Accepting work reliably: answer each message once, rate limits, the work log, helpdesk jobs.

Domain types and Protocols only (`HandledEvents`, `RateLimiter` and its `RateRule`,
`Greetings`, `WorkLog`, `JobStore`, `Job`); their in-memory and Redis implementations live in
`bot.stores`. Imports nothing of `bot` (helpdesk jobs may use `bot.turns`).
"""
