"""Where the demo finds the checkout's files: the example app, deploy/ and collector-config.yaml."""

from __future__ import annotations

from pathlib import Path

__all__ = ["REPO_ROOT"]

REPO_ROOT = Path(__file__).resolve().parents[4]
"""The checkout this package runs from (src/tokentrail/dev/demo/ is four levels below it)."""
