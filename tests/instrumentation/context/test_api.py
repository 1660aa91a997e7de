"""`tokentrail.attributes()` / `tokentrail.workflow()`: their arguments."""

from __future__ import annotations

import pytest

import tokentrail


def test_workflow_name_must_be_given() -> None:
    with pytest.raises(ValueError, match="workflow name"):
        tokentrail.workflow("")
