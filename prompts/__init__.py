"""Versioned prompt templates (`NAME.vN.jinja`).

Loaded by `bot.conversation.prompting.load_prompt`.
"""
