"""The embedded default database: a private PostgreSQL cluster that tokentrail initialises and runs itself.

When no database URL is configured, the sink (and `make demo`) run on a cluster under the data directory, made with
the system's PostgreSQL server binaries (`initdb`, `pg_ctl`). The cluster listens on 127.0.0.1 only, on a port chosen
once and remembered, with `trust` authentication for its single local user: it is a private, single-user database.

PostgreSQL refuses to run as root. When tokentrail runs as root, the cluster's files belong to the `postgres` system
user and its commands run through `runuser`; if the data directory is not reachable by that user (for example under
`/root`, which is mode 0700) the cluster lives in a directory of its own under the system temp directory, named after
the data directory, and the data directory records where.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from tokentrail.errors import EmbeddedPostgresError

__all__ = ["EmbeddedPostgres", "EmbeddedPostgresError", "find_bindir", "running_url"]

log = logging.getLogger(__name__)

STATE_FILE = "embedded-postgres.json"
USER = "tokentrail"
DATABASE = "tokentrail"
SYSTEM_USER = "postgres"


def find_bindir() -> Path:
    """The directory of the PostgreSQL server binaries: `TOKENTRAIL_PG_BINDIR`, `pg_config --bindir`, or the newest
    `/usr/lib/postgresql/*/bin`."""
    explicit = os.environ.get("TOKENTRAIL_PG_BINDIR")
    candidates: list[Path] = [Path(explicit)] if explicit else []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.CalledProcessError):
            out = subprocess.run([pg_config, "--bindir"], check=True, capture_output=True, text=True).stdout
            candidates.append(Path(out.strip()))

    def version_key(path: Path) -> tuple[int, ...]:
        return tuple(int(part) for part in path.parent.name.split(".") if part.isdigit())

    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version_key, reverse=True)
    for directory in candidates:
        if (directory / "initdb").is_file() and (directory / "pg_ctl").is_file():
            return directory
    raise EmbeddedPostgresError(
        "PostgreSQL server binaries (initdb, pg_ctl) were not found: install the PostgreSQL server package "
        "(e.g. `apt-get install postgresql`), set TOKENTRAIL_PG_BINDIR, or give a database URL "
        "(TOKENTRAIL_DATABASE_URL / --database-url)."
    )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does: TIME_WAIT is no conflict
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@dataclasses.dataclass
class _State:
    pgdata: str
    port: int

    @classmethod
    def read(cls, path: Path) -> _State | None:
        try:
            raw = json.loads(path.read_text())
            return cls(pgdata=str(raw["pgdata"]), port=int(raw["port"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(dataclasses.asdict(self)) + "\n")


def _url(port: int, database: str = DATABASE) -> str:
    return f"postgresql://{USER}@127.0.0.1:{port}/{database}"


class EmbeddedPostgres:
    """A private PostgreSQL cluster under `data_dir`.

    `start()` initialises the cluster on first use, starts it (or finds it already running) and returns its
    connection URL; `stop()` stops it if this object started it (or always, with `force=True`). Use it as a
    context manager to stop on exit. `durable=False` turns off fsync for throwaway test clusters.
    """

    def __init__(self, data_dir: str | os.PathLike[str], *, port: int | None = None, durable: bool = True) -> None:
        self.data_dir = Path(data_dir).absolute()
        self._requested_port = port
        self._durable = durable
        self._bindir: Path | None = None
        self._started_here = False
        self.port: int | None = None

    # -- paths ---------------------------------------------------------------------------------------------
    @property
    def _as_root(self) -> bool:
        return hasattr(os, "geteuid") and os.geteuid() == 0

    @property
    def _state_path(self) -> Path:
        return self.data_dir / STATE_FILE

    def _pgdata(self) -> Path:
        state = _State.read(self._state_path)
        if state is not None:
            return Path(state.pgdata)
        if not self._as_root or self._reachable_by_system_user(self.data_dir):
            return self.data_dir / "postgres" / "pgdata"
        digest = hashlib.sha256(str(self.data_dir).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"tokentrail-pg-{digest}" / "pgdata"

    def _reachable_by_system_user(self, path: Path) -> bool:
        result = subprocess.run(
            ["runuser", "-u", SYSTEM_USER, "--", "test", "-x", str(path)], capture_output=True, check=False
        )
        return result.returncode == 0

    @property
    def url(self) -> str:
        if self.port is None:
            raise EmbeddedPostgresError("the embedded cluster is not started")
        return _url(self.port)

    def url_for(self, database: str) -> str:
        if self.port is None:
            raise EmbeddedPostgresError("the embedded cluster is not started")
        return _url(self.port, database)

    # -- commands ------------------------------------------------------------------------------------------
    def _run(
        self, args: Sequence[str], *, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        if self._bindir is None:
            self._bindir = find_bindir()
        command = [str(self._bindir / args[0]), *args[1:]]
        if self._as_root:
            command = ["runuser", "-u", SYSTEM_USER, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
        if check and result.returncode != 0:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise EmbeddedPostgresError(f"{args[0]} failed: {' '.join(detail[-3:]) or result.returncode}")
        return result

    def _prepare_dir(self, pgdata: Path) -> None:
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        if self._as_root:
            shutil.chown(pgdata.parent, SYSTEM_USER, SYSTEM_USER)
            pgdata.parent.chmod(0o755)

    def _initdb(self, pgdata: Path) -> None:
        self._prepare_dir(pgdata)
        self._run(
            [
                "initdb",
                "-D",
                str(pgdata),
                f"--username={USER}",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                *([] if self._durable else ["--no-sync"]),
            ]
        )

    def _running(self, pgdata: Path) -> bool:
        if not (pgdata / "postmaster.pid").exists():
            return False
        return self._run(["pg_ctl", "status", "-D", str(pgdata)], check=False).returncode == 0

    def start(self) -> str:
        """Initialise (first time), start (unless running) and return the URL of the `tokentrail` database."""
        self._bindir = self._bindir or find_bindir()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        pgdata = self._pgdata()
        state = _State.read(self._state_path)
        if not (pgdata / "PG_VERSION").exists():
            self._initdb(pgdata)
            state = None
        if state is not None and self._running(pgdata):
            self.port = state.port
            self._wait_ready()
            return self.url
        port = self._requested_port or (state.port if state and _port_is_free(state.port) else _free_port())
        socket_dir = pgdata.parent / "run"
        socket_dir.mkdir(exist_ok=True)
        if self._as_root:
            shutil.chown(socket_dir, SYSTEM_USER, SYSTEM_USER)
        options = f"-p {port} -k {socket_dir} -c listen_addresses=127.0.0.1 -c max_connections=200"
        if not self._durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        log_file = pgdata.parent / "postgres.log"
        if self._as_root and not log_file.exists():
            log_file.touch()
            shutil.chown(log_file, SYSTEM_USER, SYSTEM_USER)
        self._run(["pg_ctl", "start", "-w", "-t", "60", "-D", str(pgdata), "-l", str(log_file), "-o", options])
        self.port = port
        self._started_here = True
        _State(pgdata=str(pgdata), port=port).write(self._state_path)
        self._wait_ready()
        self._ensure_database()
        return self.url

    def _wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            result = self._run(["pg_isready", "-h", "127.0.0.1", "-p", str(self.port), "-U", USER], check=False)
            if result.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise EmbeddedPostgresError(f"the embedded cluster did not accept connections on port {self.port}")
            time.sleep(0.1)

    def _ensure_database(self) -> None:
        exists = self._run(
            [
                "psql",
                *("-h", "127.0.0.1", "-p", str(self.port), "-U", USER, "-d", "postgres", "-tAc"),
                f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'",
            ],
        ).stdout.strip()
        if exists != "1":
            self._run(["createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", USER, DATABASE])

    def stop(self, *, force: bool = False) -> None:
        """Stop the cluster if this object started it, or whenever `force` is true. Data stays on disk."""
        if not (self._started_here or force):
            return
        pgdata = self._pgdata()
        if (pgdata / "postmaster.pid").exists():
            self._run(["pg_ctl", "stop", "-w", "-t", "60", "-m", "fast", "-D", str(pgdata)], check=False)
        self._started_here = False

    def destroy(self) -> None:
        """Stop the cluster and delete its files (for throwaway clusters)."""
        self.stop(force=True)
        shutil.rmtree(self._pgdata().parent, ignore_errors=True)
        self._state_path.unlink(missing_ok=True)

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def running_url(data_dir: str | os.PathLike[str]) -> str | None:
    """The URL of the embedded cluster under `data_dir` if it is running now, else None (never starts anything)."""
    cluster = EmbeddedPostgres(data_dir)
    state = _State.read(cluster._state_path)
    if state is None:
        return None
    try:
        if not cluster._running(Path(state.pgdata)):
            return None
    except EmbeddedPostgresError:
        return None
    return _url(state.port)
