"""Real services for the tests: a redis-server and a PostgreSQL cluster.

Each is started once per test session in a temporary folder on a free port.
When one cannot be started, the tests that need it are skipped on a
developer's machine and fail in CI (CI=true), where a skip would hide a gap.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def unavailable(reason: str) -> None:
    """Skip here, fail in CI."""
    if IN_CI:
        pytest.fail(f"required test service unavailable in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(
    port: int, timeout: float = 60.0, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Wait until something listens on ``port``; the timeout only stops a hang.

    With ``process``, fail at once if it exits first (it could not bind the port).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"exited with {process.returncode} before listening on {port}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on port {port}")


class RedisServer:
    def __init__(self) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            unavailable("redis-server is not installed (apt-get install redis-server)")
        self.folder = tempfile.mkdtemp(prefix="puente-redis-")
        self.binary = binary
        self.process: subprocess.Popen[bytes] | None = None
        for attempt in range(5):  # another process may take the free port before redis does
            self.port = free_port()
            try:
                self.start()
                break
            except RuntimeError:
                if attempt == 4:
                    raise

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--save", "", "--appendonly", "no", "--dir", self.folder]
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL)
        wait_for_port(self.port, process=self.process)

    def restart_empty(self) -> None:
        """Kill the server and start it again with no data (a Redis that lost everything)."""
        self.stop()
        self.start()

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name)
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    # /usr/local/bin wrappers refuse root; the real binaries live under /usr/lib.
    return candidates[0] if candidates else found


class PostgresServer:
    """A PostgreSQL cluster in a temporary folder, on a free port.

    Not durable by default (fsync off: the tests' speed); the benchmarks ask
    for ``durable=True``, as in production.
    """

    def __init__(
        self, durable: bool = False, max_connections: int = 200, options: str = ""
    ) -> None:
        initdb, pg_ctl = _pg_bin("initdb"), _pg_bin("pg_ctl")
        if not initdb or not pg_ctl:
            unavailable("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
        self.folder = Path(tempfile.mkdtemp(prefix="puente-pg-"))
        self.port = free_port()
        self.pg_ctl = pg_ctl
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # initdb and pg_ctl refuse to run as root
            shutil.chown(self.folder, "postgres", "postgres")
            self.as_user = ["runuser", "-u", "postgres", "--"]
        data = str(self.folder / "data")
        self._run([initdb, "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"])
        opts = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        opts += f" -c max_connections={max_connections} {options}"
        if not durable:
            opts += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run([pg_ctl, "-D", data, "-o", opts, "-l", str(self.folder / "log"), "-w", "start"])
        self.data = data
        self.durable = durable

    def _run(self, args: list[str]) -> None:
        subprocess.run(self.as_user + args, check=True, stdout=subprocess.DEVNULL)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def pid(self) -> int:
        """The postmaster's process id (for CPU accounting in benchmarks)."""
        return int(Path(self.data, "postmaster.pid").read_text().split()[0])

    def stop(self) -> None:
        self._run([self.pg_ctl, "-D", self.data, "-m", "immediate", "stop"])
        shutil.rmtree(self.folder, ignore_errors=True)
