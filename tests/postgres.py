"""A throwaway PostgreSQL cluster for the tests: the distribution's PostgreSQL (15 on these
machines), initialised in a temporary folder, listening on a free loopback port with trust
authentication, stopped and removed at the end. PostgreSQL refuses to run as root, so as
root the cluster runs as the `postgres` system user (`runuser`).

Each test that asks gets a database of its own in that cluster (`fresh_database`)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path


class PostgresMissing(RuntimeError):
    """No PostgreSQL server programs on this machine."""


def server_bin() -> Path:
    """The newest installed PostgreSQL's bin folder (Debian keeps them out of PATH)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parent.parent.name))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).parent
    raise PostgresMissing("no initdb: install PostgreSQL (Debian: apt-get install postgresql)")


class Cluster:
    """`durable`: PostgreSQL's own defaults (each commit waits for its WAL on disk), for
    benchmarks; the tests turn that off."""

    def __init__(self, durable: bool = False) -> None:
        self.durable = durable
        self.bin = server_bin()
        self.as_user: list[str] = []
        self.folder = Path(tempfile.mkdtemp(prefix="citewatch-pg-"))
        if os.geteuid() == 0:  # PostgreSQL refuses root: its files and process belong to postgres
            account = pwd.getpwnam("postgres")
            os.chown(self.folder, account.pw_uid, account.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/"

    def _run(self, *argv: str) -> None:
        done = subprocess.run([*self.as_user, *argv], capture_output=True, text=True, timeout=120)
        if done.returncode:
            raise RuntimeError(f"{' '.join(argv[:2])} failed: {done.stderr.strip() or done.stdout.strip()}")

    def start(self) -> Cluster:
        data = self.folder / "data"
        self._run(str(self.bin / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "--no-sync", "--no-instructions")
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c max_connections=200"
        if not self.durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(str(self.bin / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(self.folder / "log"), "-w",
                  "start")
        return self

    def stop(self) -> None:
        try:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def fresh_database(self) -> str:
        """A new, empty database's URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url + "postgres", autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        return self.url + name
