"""Real test doubles: a tiny checkpoint, a fake Slack Web API, a private Redis."""
