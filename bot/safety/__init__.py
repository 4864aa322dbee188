"""Guards on what enters and leaves: secrets and personal data, sensitive words,
links, URL policy, image checks and the virus scanner.

Pure text and image guards plus clamd; no stores, no transport. The reply
filter (`filters.ReplyFilter`) is what the answer path uses. Imports nothing of
`bot` but `bot.errors`, `bot.messages`, `bot.turns` (types), `bot.settings` and
`bot.engine.images` (the one image decoder).
"""
