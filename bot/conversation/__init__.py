"""The conversation core: turns, history rules, prompts, diagnosis, knowledge, escalation.

Owns the diagnosis use case (`diagnosis.Diagnoser`: turn in, reply chunks out) and the
domain types and store Protocols it needs (`HistoryStore`, `CaseStore`,
`KnowledgeBase`, `FeedbackStore`). No transport inside: nothing here knows Slack
or a helpdesk. May import `bot.engine` (its public face), `bot.safety`,
`bot.attachments`, `bot.errors`, `bot.messages`, `bot.settings`, `bot.turns`; never
`bot.stores` or `handlers`.
"""
