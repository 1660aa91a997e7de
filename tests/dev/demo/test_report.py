from __future__ import annotations

from pathlib import Path

import pytest

from tokentrail.dev.demo._report import print_next_steps

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def _lines(capsys: pytest.CaptureFixture[str], **kwargs: object) -> list[str]:
    print_next_steps(
        kwargs.pop("jaeger", None),  # type: ignore[arg-type]
        TRACE,
        "postgresql://u:secret@127.0.0.1:5432/db",
        Path("/tmp/logs"),
        1.5,
        **kwargs,  # type: ignore[arg-type]
    )
    return capsys.readouterr().out.splitlines()


def test_the_ui_link_comes_first(capsys: pytest.CaptureFixture[str]) -> None:
    lines = _lines(capsys, ui_url="http://127.0.0.1:4319", jaeger="http://127.0.0.1:16686", jaeger_has_ui=True)
    assert lines[2] == f"UI:       http://127.0.0.1:4319/traces/{TRACE}"
    assert lines[3] == f"Jaeger:   http://127.0.0.1:16686/trace/{TRACE}"
    assert "secret" not in "\n".join(lines)


def test_a_jaeger_without_its_ui_gets_no_link(capsys: pytest.CaptureFixture[str]) -> None:
    lines = _lines(capsys, ui_url="http://127.0.0.1:4319", jaeger="http://127.0.0.1:16686", jaeger_has_ui=False)
    (jaeger,) = [line for line in lines if line.startswith("Jaeger:")]
    assert "serves the query API only" in jaeger
    assert "official image" in jaeger
    assert "/trace/" not in jaeger
