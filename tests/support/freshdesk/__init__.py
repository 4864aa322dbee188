"""A fifth helpdesk written as a vendor would add one, to show that a package and one
registry entry are all it takes (see docs/architecture.md, "Adding a helpdesk")."""

from tests.support.freshdesk.helpdesk import Freshdesk

__all__ = ["Freshdesk"]
