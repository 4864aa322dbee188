"""How many examples a property test tries: its everyday budget, or many more when searching.

An explicit `@settings(max_examples=…)` overrides the loaded hypothesis profile, so the
wider search (`HYPOTHESIS_PROFILE=search`, docs/security.md) reaches these tests
through this function.
"""

from __future__ import annotations

import os

SEARCH_FACTOR = 25


def examples(budget: int) -> int:
    """`budget` examples, or `SEARCH_FACTOR` times as many under the search profile."""
    return budget * SEARCH_FACTOR if os.environ.get("HYPOTHESIS_PROFILE") == "search" else budget
