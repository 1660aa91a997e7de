"""`reports.connect.locate`: the configured URL, else the embedded cluster, else a running demo's under ./.demo."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tokentrail.db import settings
from tokentrail.db.embedded import running_url
from tokentrail.dev.demo import _cli as demo_cli
from tokentrail.errors import CommandError
from tokentrail.reports import connect

pytestmark = pytest.mark.postgres


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository root to run the CLI from, with the default data dir pointed at an empty directory."""
    root = tmp_path / "repo"
    root.mkdir()
    monkeypatch.chdir(root)
    monkeypatch.setattr(settings, "DEFAULT_DATA_DIR", tmp_path / "default-data")
    monkeypatch.delenv("TOKENTRAIL_DATA_DIR", raising=False)
    monkeypatch.delenv("TOKENTRAIL_DATABASE_URL", raising=False)
    return root


def test_the_demo_dir_is_the_demos_default() -> None:
    assert connect.DEMO_DATA_DIR == demo_cli.DEFAULT_DATA_DIR


def test_a_configured_url_wins(repo: Path) -> None:
    assert connect.locate("postgresql://x@h/db", settings.DEFAULT_DATA_DIR) == "postgresql://x@h/db"


def test_a_running_demo_is_found_from_the_repository_root(repo: Path, pg_cluster: Any) -> None:
    (repo / ".demo").symlink_to(pg_cluster.embedded.data_dir, target_is_directory=True)
    expected = running_url(pg_cluster.embedded.data_dir)
    assert expected is not None
    current = settings.load()
    assert connect.locate(current.database_url, current.data_dir) == expected


def test_no_demo_fallback_when_a_data_dir_is_given(repo: Path, pg_cluster: Any, tmp_path: Path) -> None:
    (repo / ".demo").symlink_to(pg_cluster.embedded.data_dir, target_is_directory=True)
    with pytest.raises(CommandError) as raised:
        connect.locate(None, tmp_path / "elsewhere")
    assert raised.value.code == 2
    assert "TOKENTRAIL_DATABASE_URL" in str(raised.value)


def test_nothing_running_anywhere_says_how_to_configure(repo: Path) -> None:
    with pytest.raises(CommandError, match="tokentrail demo"):
        connect.locate(None, settings.DEFAULT_DATA_DIR)
