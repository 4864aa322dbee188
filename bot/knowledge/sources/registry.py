"""Which class builds a source of each configured `type`.

Each entry takes the source's `SourceConfig` and the `SourceContext` (the
settings-derived things a source may need: HTTP client factory, vendor
credentials) and returns a `Source`. Vendor types register here beside the
built-in ones.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.errors import ConfigError, KnowledgeSourceError
from bot.knowledge.config import SourceConfig
from bot.knowledge.sources.base import Source


@dataclass(frozen=True)
class SourceContext:
    """What sources may need beyond their own table.

    `credentials` maps a vendor (`zendesk`, `confluence`, `intercom`) to what the
    settings hold for it.
    """

    base_dir: Path = Path(".")
    credentials: Mapping[str, Any] = field(default_factory=dict)


SourceFactory = Callable[[SourceConfig, SourceContext], Source]


def _folder(config: SourceConfig, context: SourceContext) -> Source:
    from bot.knowledge.sources.folder import FolderSource

    if config.path is None:
        raise ConfigError(f"knowledge source {config.name}: a folder source needs `path`")
    root = config.path if config.path.is_absolute() else context.base_dir / config.path
    return FolderSource(
        name=config.name,
        root=root,
        visibility=config.visibility,
        url_template=config.url_template,
    )


@dataclass(frozen=True)
class VendorCredentials:
    """A vendor API's address and the account the bot signs in as (email may be empty)."""

    base_url: str
    email: str
    token: str = field(repr=False)


def _credentials(config: SourceConfig, context: SourceContext, vendor: str) -> VendorCredentials:
    found = context.credentials.get(vendor)
    if not isinstance(found, VendorCredentials):
        raise ConfigError(
            f"knowledge source {config.name}: no {vendor} credentials in the settings "
            f"(see docs/knowledge.md)"
        )
    return found


def _zendesk(config: SourceConfig, context: SourceContext) -> Source:
    from bot.knowledge.sources.zendesk import ZendeskHelpCenterSource

    account = _credentials(config, context, "zendesk")
    return ZendeskHelpCenterSource(
        name=config.name,
        base_url=config.url or account.base_url,
        email=account.email,
        token=account.token,
        visibility=config.visibility,
        locale=config.options.get("locale"),
    )


def _confluence(config: SourceConfig, context: SourceContext) -> Source:
    from bot.knowledge.sources.confluence import ConfluenceSource

    account = _credentials(config, context, "confluence")
    spaces = config.options.get("spaces")
    if not isinstance(spaces, list) or not spaces:
        raise ConfigError(f"knowledge source {config.name}: a confluence source needs `spaces`")
    return ConfluenceSource(
        name=config.name,
        base_url=config.url or account.base_url,
        email=account.email,
        token=account.token,
        spaces=[str(space) for space in spaces],
        visibility=config.visibility,
    )


def _intercom(config: SourceConfig, context: SourceContext) -> Source:
    from bot.knowledge.sources.intercom import IntercomArticlesSource

    account = _credentials(config, context, "intercom")
    return IntercomArticlesSource(
        name=config.name,
        token=account.token,
        visibility=config.visibility,
        base_url=config.url or account.base_url,
    )


def _web(config: SourceConfig, context: SourceContext) -> Source:
    from bot.knowledge.sources.web import WebSource

    networks = config.options.get("allowed_networks", [])
    try:
        if not isinstance(networks, list):
            raise ValueError("not a list")
        allowed = [ipaddress.ip_network(str(network)) for network in networks]
    except ValueError as error:
        raise ConfigError(
            f"knowledge source {config.name}: `allowed_networks` must be a list of networks "
            f'such as "10.20.0.0/16" ({error})'
        ) from None
    try:
        return WebSource(
            name=config.name,
            visibility=config.visibility,
            url=config.url,
            sitemap=config.sitemap,
            max_pages=config.max_pages,
            allowed_networks=allowed,
        )
    except KnowledgeSourceError as error:
        raise ConfigError(f"knowledge source {config.name}: {error.reason}") from None


FACTORIES: dict[str, SourceFactory] = {
    "folder": _folder,
    "web": _web,
    "zendesk": _zendesk,
    "confluence": _confluence,
    "intercom": _intercom,
}


def build_source(config: SourceConfig, context: SourceContext) -> Source:
    """The source `config` declares; a `ConfigError` for a type nobody registered."""
    factory = FACTORIES.get(config.type)
    if factory is None:
        known = ", ".join(sorted(FACTORIES))
        raise ConfigError(
            f"knowledge source {config.name}: unknown type {config.type!r} (known: {known})"
        )
    return factory(config, context)
