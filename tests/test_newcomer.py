"""A newcomer's first minutes: a fresh clone in a temp dir and the README's two commands, nothing else.

`make demo` runs here in a fresh clone of what is committed (its own virtual environment, its own embedded
Postgres). `make test` on a fresh clone is what CI runs (`.ci/run`); running it again inside the suite would
recurse, so this test checks that `.ci/run` runs exactly the README's test command.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tokentrail.db.embedded import EmbeddedPostgres

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    return re.findall(r"^(make (?:demo|test))\b", text, flags=re.M)


@pytest.fixture
def clone() -> Iterator[Path]:
    if not (ROOT / ".git").exists():
        pytest.fail("the newcomer test needs the git checkout it runs from")
    where = Path(tempfile.mkdtemp(prefix="tokentrail-newcomer-"))
    target = where / "tokentrail"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(target)], check=True, timeout=120)
    yield target
    EmbeddedPostgres(target / ".demo").destroy()
    shutil.rmtree(where, ignore_errors=True)


def test_the_readme_names_the_two_commands_and_ci_runs_the_test_one() -> None:
    commands = _readme_commands()
    assert "make demo" in commands
    assert "make test" in commands
    ci = (ROOT / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, flags=re.M), ".ci/run must run the README's test command"


def test_make_demo_on_a_fresh_clone(clone: Path) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TOKENTRAIL_", "OTEL_", "ANTHROPIC_", "VIRTUAL_ENV", "PYTHON"))
    }
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if str(ROOT) not in p)
    result = subprocess.run(
        ["make", "demo"],
        cwd=clone,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    assert (clone / ".venv" / "bin" / "python").exists(), "make demo creates its own virtual environment"
    for expected in ("cost and latency by model", "one request, step by step", "LLM calls stored", "claude-"):
        assert expected in output, f"{expected!r} missing from the demo's output:\n{output[-4000:]}"
    assert "stopped everything the demo started" in output
