"""One package per helpdesk vendor (`zendesk`, `jira`, `intercom`, `generic`), each behind the
`Helpdesk` interface in `base.py`, listed once in `registry.py`."""
