"""Versioned prompt templates (`NAME.vN.jinja`), loaded by `bot.prompting.load_prompt`."""
