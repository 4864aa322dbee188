"""`supportbot eval`: the diagnosis measured over a shipped set of error screenshots.

cases (definitions and labels) → rendering (the generator; only when the set is
regenerated) → running (each case through the real `Diagnoser`) → scoring →
reporting (table, JSON, HTML beside the screenshots). `legibility` says how tall
the smallest text line is once the engine has resized the screenshot.
"""
