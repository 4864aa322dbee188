"""Each configured type is built by its registered factory, with the settings' accounts."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.knowledge.config import SourceConfig
from bot.knowledge.sources.confluence import ConfluenceSource
from bot.knowledge.sources.folder import FolderSource
from bot.knowledge.sources.intercom import IntercomArticlesSource
from bot.knowledge.sources.registry import SourceContext, VendorCredentials, build_source
from bot.knowledge.sources.zendesk import ZendeskHelpCenterSource

ACCOUNTS = {
    "zendesk": VendorCredentials("https://acme.zendesk.com", "bot@acme.test", "zd-token"),
    "confluence": VendorCredentials("https://acme.atlassian.net", "bot@acme.test", "at-token"),
    "intercom": VendorCredentials("https://api.intercom.io", "", "ic-token"),
}


def _config(**fields: object) -> SourceConfig:
    return SourceConfig.model_validate({"name": "kb", **fields})


def test_every_type_is_built_by_its_factory(tmp_path: Path) -> None:
    context = SourceContext(base_dir=tmp_path, credentials=ACCOUNTS)
    extras: dict[str, dict[str, object]] = {
        "folder": {"path": "docs"},
        "zendesk": {"locale": "en-us"},
        "confluence": {"spaces": ["OPS"]},
        "intercom": {},
    }
    built = {
        kind: build_source(_config(type=kind, **extra), context) for kind, extra in extras.items()
    }
    assert isinstance(built["folder"], FolderSource)
    assert isinstance(built["zendesk"], ZendeskHelpCenterSource)
    assert isinstance(built["confluence"], ConfluenceSource)
    assert isinstance(built["intercom"], IntercomArticlesSource)


def test_missing_accounts_and_unknown_types_are_config_errors(tmp_path: Path) -> None:
    context = SourceContext(base_dir=tmp_path)
    with pytest.raises(ConfigError, match="no zendesk credentials"):
        build_source(_config(type="zendesk"), context)
    with pytest.raises(ConfigError, match="needs `spaces`"):
        build_source(_config(type="confluence"), SourceContext(credentials=ACCOUNTS))
    with pytest.raises(ConfigError, match="unknown type 'notion'"):
        build_source(_config(type="notion"), context)


def test_channels_absent_or_star_mean_everyone() -> None:
    assert _config(type="folder").visibility.channels is None
    assert _config(type="folder", channels=["*"]).visibility.channels is None
    assert _config(type="folder", channels=["C1"]).visibility.allows("C1")
    assert not _config(type="folder", channels=["C1"]).visibility.allows("C2")
