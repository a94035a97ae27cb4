"""A throwaway PostgreSQL server for the tests: `initdb` + `pg_ctl` in a temp folder,
listening on 127.0.0.1 (a free port) and on a unix socket in that folder, stopped when the
process ends: by atexit when it exits (also by an error); when it is killed (SIGTERM, kill
-9: no atexit), by a small watcher process started with the server, which waits for its
owner to end, then stops the server and removes the folder. The folder names its owner
(`owner.json`: pid and start time); whatever a watcher could not clean (it was killed too)
goes at the next start of a cluster (`sweep_leftovers`). Folders of a living owner, or with
no owner file, are never touched.

    reason = unavailable()            # None, or why PostgreSQL tests are skipped
    cluster = shared_cluster()        # one per process, started on first use
    tpl = cluster.template("appealdesk_tpl", migrate)   # made (and migrated) once
    url = cluster.fresh(tpl)          # CREATE DATABASE … TEMPLATE tpl: a few ms

As root (initdb refuses it), every server command runs as the `postgres` user through
`runuser`, and the folder is given to that user. Durability is off (`fsync`,
`synchronous_commit`, `full_page_writes`): the data dies with the test run anyway.
"""

from __future__ import annotations

import atexit
import itertools
import json
import os
import pwd
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

DEBIAN_BINDIR = Path("/usr/lib/postgresql/15/bin")
SERVER_USER = "postgres"  # the role initdb makes, and (as root) the OS user that runs it
SPEED = ("-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off")
PREFIX = "appealdesk-pg-"  # the cluster folders, in the temp folder
OWNER = "owner.json"  # in a cluster's folder: the process it belongs to


def bindir() -> Path | None:
    """The folder holding initdb and pg_ctl: Debian's PostgreSQL 15, else the newest other
    Debian version (`apt-get install postgresql` brings the release's own), else
    `pg_config`'s."""
    others = sorted(
        DEBIAN_BINDIR.parent.parent.glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    candidates = [DEBIAN_BINDIR, *others]
    if pg_config := shutil.which("pg_config"):
        try:
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, check=True, timeout=10
            )
            candidates.append(Path(out.stdout.strip()))
        except (OSError, subprocess.SubprocessError):
            pass
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    return None


def unavailable() -> str | None:
    """Why a PostgreSQL server cannot be started here (a skip reason), or None."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "PostgreSQL tests skipped: psycopg is not installed (pip install -e '.[test]')"
    if bindir() is None:
        return (
            f"PostgreSQL tests skipped: no initdb/pg_ctl in {DEBIAN_BINDIR.parent.parent}/*/bin"
            " nor from pg_config"
            " (apt-get install -y postgresql)"
        )
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return f"PostgreSQL tests skipped: running as root and no user {SERVER_USER!r}"
        if shutil.which("runuser") is None:
            return "PostgreSQL tests skipped: running as root and no runuser"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ClusterError(RuntimeError):
    """The server could not be made or started; the message holds what it said."""


class Cluster:
    """One running server in its own folder; `url(name)` reaches database `name` over TCP."""

    def __init__(self, folder: Path, bin_dir: Path) -> None:
        self.folder = folder
        self.data = folder / "data"
        self.bin = bin_dir
        self.port = 0
        self._names = itertools.count(1)
        self._templates: dict[str, str] = {}
        self.running = False
        self._admin: Any = None  # the connection `execute` keeps to database postgres
        self.watcher: subprocess.Popen[bytes] | None = None  # see `watch`

    # -- the server ------------------------------------------------------------------------

    def _run(self, *args: str) -> str:
        return run_server_command(self.bin, *args)

    def start(self) -> Cluster:
        claim(self.folder, self.bin)
        if os.geteuid() == 0:
            entry = pwd.getpwnam(SERVER_USER)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
        self.folder.chmod(0o700)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", SERVER_USER, "-E", "UTF8",
                  "--locale=C.UTF-8", "--no-sync")  # fmt: skip
        for attempt in range(3):  # a free port may be taken between the check and the start
            self.port = free_port()
            options = " ".join(
                (
                    f"-p {self.port}",
                    f"-k {self.folder}",
                    "-c listen_addresses=127.0.0.1",
                    "-c max_connections=200",
                    *SPEED,
                )
            )
            try:
                self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l",
                          str(self.folder / "server.log"), "-w", "-t", "60", "start")  # fmt: skip
                break
            except ClusterError:
                if attempt == 2:
                    raise ClusterError(f"the server did not start: {self.log_tail()}") from None
        self.running = True
        atexit.register(self.stop)
        self.watcher = watch(self.folder, self.bin)
        return self

    def log_tail(self) -> str:
        log = self.folder / "server.log"
        if not log.exists():
            return "(no log)"
        return " / ".join(log.read_text(errors="replace").strip().splitlines()[-3:])

    def stop(self) -> None:
        """Stop the server (fast: nothing is worth keeping) and remove its folder."""
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        if self.watcher is not None:  # its work is done here
            self.watcher.terminate()
            try:
                self.watcher.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.watcher.kill()
                self.watcher.wait()
            self.watcher = None
        if self.running:
            self.running = False
            stop_server(self.folder, self.bin)
        shutil.rmtree(self.folder, ignore_errors=True)

    # -- databases -------------------------------------------------------------------------

    def url(self, dbname: str = "postgres") -> str:
        return f"postgresql://{SERVER_USER}@127.0.0.1:{self.port}/{dbname}"

    def execute(self, sql: str, dbname: str = "postgres") -> list[tuple]:
        """Run one statement outside a transaction (CREATE/DROP DATABASE need that)."""
        import psycopg

        if dbname != "postgres":
            with psycopg.connect(self.url(dbname), autocommit=True) as conn:
                cur = conn.execute(sql)  # type: ignore[arg-type]
                return cur.fetchall() if cur.description else []
        if self._admin is None or self._admin.closed:  # kept: a connection costs ~20 ms
            self._admin = psycopg.connect(self.url(dbname), autocommit=True)
        cur = self._admin.execute(sql)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []

    def create(self, template: str | None = None) -> str:
        """A new empty (or `template`-copied) database; its URL."""
        name = f"t{os.getpid()}_{next(self._names)}"
        # FILE_COPY: a small template is copied in a third of WAL_LOG's time (durability is
        # off on this server, so its checkpoint costs little)
        copy = f" TEMPLATE {template} STRATEGY FILE_COPY" if template else ""
        self.execute(f'CREATE DATABASE "{name}"{copy}')
        return self.url(name)

    def template(self, name: str, setup: Callable[[str], None] | None = None) -> str:
        """A database `name` made once per cluster and given to `setup(url)` (e.g. migrate
        it), then marked a template; later calls return the same name."""
        if name not in self._templates:
            self.execute(f'CREATE DATABASE "{name}"')
            if setup is not None:
                setup(self.url(name))
            self.execute(f'ALTER DATABASE "{name}" WITH IS_TEMPLATE true ALLOW_CONNECTIONS false')
            self._templates[name] = name
        return self._templates[name]

    def fresh(self, template: str | None = None) -> str:
        """A fresh database for one test: a copy of `template` (made by `template()`)."""
        return self.create(template)

    def drop(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- a server outlives no test run ----------------------------------------------------------


def run_server_command(bin_dir: Path, *args: str) -> str:
    """Run initdb/pg_ctl from `bin_dir` (as the `postgres` user when root); its output."""
    command = [str(bin_dir / args[0]), *args[1:]]
    if os.geteuid() == 0:
        command = ["runuser", "-u", SERVER_USER, "--", *command]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        said = (done.stderr or done.stdout).strip().splitlines()
        raise ClusterError(f"{args[0]} failed: {' / '.join(said[-3:])}")
    return done.stdout


def stop_server(folder: Path, bin_dir: Path) -> None:
    """Stop the server whose data is in `folder` at once, if one runs there."""
    try:
        run_server_command(bin_dir, "pg_ctl", "-D", str(folder / "data"), "-m", "immediate",
                           "-w", "stop")  # fmt: skip
    except (ClusterError, OSError, subprocess.SubprocessError):
        pass  # none was running (or it is gone already)


def started_at(pid: int) -> int | None:
    """When process `pid` started (clock ticks since boot, from /proc), or None when there
    is no such process (or only its exit status is left: a zombie); 0 where /proc cannot
    tell (the pid alone then names it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return None
    except OSError:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return 0
    fields = stat.rsplit(")", 1)[1].split()  # from field 3 on, after the command's name
    return None if fields[0] in ("Z", "X") else int(fields[19])  # state; start time


def claim(folder: Path, bin_dir: Path) -> None:
    """Write into `folder` which process owns it (this one) and where its pg_ctl is."""
    owner = {"pid": os.getpid(), "started": started_at(os.getpid()), "bin": str(bin_dir)}
    (folder / OWNER).write_text(json.dumps(owner))


def orphaned(folder: Path) -> dict | None:
    """The owner written in `folder` when the process that owns it is gone, else None (no
    owner written: a folder being made, or one this module did not make; or another run
    sweeping it at the same moment)."""
    try:
        owner = json.loads((folder / OWNER).read_text())
    except (OSError, ValueError):
        return None
    now = started_at(owner["pid"])
    return owner if now is None or now != owner["started"] else None


def sweep_leftovers(where: Path | None = None) -> list[Path]:
    """Stop the servers and remove the folders of clusters whose owner is gone (a test
    run killed together with its watcher); the folders removed. Workers of one run start
    together and may sweep the same folder: whichever comes second finds it gone."""
    swept = []
    for folder in sorted(Path(where or tempfile.gettempdir()).glob(f"{PREFIX}*")):
        if folder.is_dir() and (owner := orphaned(folder)) is not None:
            stop_server(folder, Path(owner["bin"]))
            shutil.rmtree(folder, ignore_errors=True)
            swept.append(folder)
    return swept


def watch(folder: Path, bin_dir: Path) -> subprocess.Popen[bytes]:
    """A process that stops the server in `folder` and removes the folder once this one
    has ended, however it ended (`_watcher`). In a session of its own, so that a signal
    to this process's group (Ctrl-C, a job killed) does not end it first."""
    script = str(Path(__file__).resolve())
    return subprocess.Popen(
        [sys.executable, script, "watch", str(os.getpid()), str(folder), str(bin_dir)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _watcher(owner: int, folder: Path, bin_dir: Path) -> None:
    """Wait for `owner` (this process's parent) to end, then stop its server. Woken by the
    kernel where it can (a pidfd), else it looks every 0.2 s whether it was re-parented."""
    try:
        handle: int | None = os.pidfd_open(owner)
    except (AttributeError, OSError):  # Linux before 5.3, or the owner gone already
        handle = None
    if os.getppid() == owner:  # not already gone
        if handle is not None:
            select.select([handle], [], [])
        else:
            while os.getppid() == owner:
                time.sleep(0.2)
    stop_server(folder, bin_dir)
    shutil.rmtree(folder, ignore_errors=True)


def start_cluster() -> Cluster:
    """A new server in a new temp folder (the caller stops it; atexit does otherwise, and
    the watcher when this process is killed). Leftovers of killed runs go first."""
    reason = unavailable()
    if reason is not None:
        raise ClusterError(reason)
    sweep_leftovers()
    folder = Path(tempfile.mkdtemp(prefix=PREFIX))
    cluster = Cluster(folder, bindir())  # type: ignore[arg-type]
    try:
        return cluster.start()
    except BaseException:
        cluster.stop()
        raise


_shared: Cluster | None = None


def shared_cluster() -> Cluster:
    """The one server of this process (tests share it; each takes databases of its own)."""
    global _shared
    if _shared is None or not _shared.running:
        _shared = start_cluster()
    return _shared


# -- what the suite's fixtures call (tests/conftest.py, test_cli, test_copy_db) -------------

TEMPLATE = "appealdesk_migrated"


def skip_reason() -> str | None:
    """Why no PostgreSQL can run here (missing binaries, a server that will not start)."""
    if (reason := unavailable()) is not None:
        return reason
    try:
        shared_cluster()
    except ClusterError as exc:
        return f"PostgreSQL: {exc}"
    return None


def _migrate(url: str) -> None:
    import asyncio

    from storage.postgres import PostgresDatabase

    async def run() -> None:
        database = PostgresDatabase(url)
        await database.open(migrate=True)
        await database.close()

    asyncio.run(run())


# A test's database is not dropped and copied again for the next test (a copy of the
# template takes ~0.3-0.6 s, most of the PostgreSQL half's time): it goes back to a stock
# and the next test gets it emptied — every table's rows deleted (triggers off for it:
# `session_replication_role = replica`, so audit_events' refusal of DELETE does not fire),
# the template's own rows put back, every sequence restarted — in one transaction, a few ms.
# A database whose schema a test changed (DDL, a dropped trigger, a grant, a database
# setting) is not reused: its catalog fingerprint differs from the template's; it is dropped.

_stock: list[str] = []  # finished databases of the suite's kind, to reset and reuse
_finished: list[str] = []  # finished databases not made by fresh_database: dropped
_reusable: set[str] = set()  # the URLs fresh_database gave


# What a database's schema is, as one digest: a test that changed any of it gets a new copy.
FINGERPRINT = """
SELECT md5(concat_ws('|',
  (SELECT string_agg(concat_ws(':', c.relname, c.relkind, c.relacl::text, a.attname,
                               a.atttypid, a.attnotnull, a.attisdropped,
                               pg_get_expr(d.adbin, d.adrelid)), ',' ORDER BY c.relname, a.attnum)
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
     LEFT JOIN pg_attrdef d ON d.adrelid = c.oid AND d.adnum = a.attnum
     WHERE n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'pg\\_%'),
  (SELECT string_agg(concat_ws(':', tgrelid::regclass::text, tgname, tgenabled), ','
                     ORDER BY tgrelid::regclass::text, tgname) FROM pg_trigger),
  (SELECT string_agg(concat_ws(':', conrelid::regclass::text, conname,
                               pg_get_constraintdef(oid)), ',' ORDER BY 1) FROM pg_constraint
     WHERE connamespace = 'public'::regnamespace),
  (SELECT string_agg(concat_ws(':', proname, md5(prosrc)), ',' ORDER BY 1) FROM pg_proc
     WHERE pronamespace = 'public'::regnamespace),
  (SELECT string_agg(concat_ws(':', nspname, nspacl::text), ',' ORDER BY 1) FROM pg_namespace
     WHERE nspname NOT LIKE 'pg\\_temp\\_%' AND nspname NOT LIKE 'pg\\_toast\\_temp\\_%'),
  (SELECT string_agg(extname, ',' ORDER BY 1) FROM pg_extension),
  (SELECT string_agg(setconfig::text, ',' ORDER BY 1) FROM pg_db_role_setting
     WHERE setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())),
  (SELECT datacl::text FROM pg_database WHERE datname = current_database())
))
"""


class Reset:
    """How to bring a used copy of a template back to the template's state: `sql` (one
    transaction) and the template's `fingerprint`."""

    def __init__(self, url: str) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(url, autocommit=True) as conn:
            self.fingerprint = conn.execute(FINGERPRINT).fetchone()[0]  # type: ignore[index]
            tables = [r[0] for r in conn.execute(
                "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables"
                " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
                " ORDER BY 1")]  # fmt: skip
            steps = ["SET LOCAL session_replication_role = replica"]
            steps += [f"DELETE FROM {table}" for table in tables]
            for table in tables:  # the rows the template holds (the migrations' records, …)
                for row in conn.execute(f"SELECT * FROM {table}").fetchall():  # noqa: S608
                    values = sql.SQL(", ").join(sql.Literal(v) for v in row)
                    steps.append(f"INSERT INTO {table} VALUES ({values.as_string(conn)})")
            for name, start, last in conn.execute(
                "SELECT format('%I.%I', schemaname, sequencename), start_value, last_value"
                " FROM pg_sequences"
            ):
                value, called = (start, "false") if last is None else (last, "true")
                steps.append(f"SELECT setval('{name}', {value}, {called})")
        self.sql = "BEGIN;\n" + ";\n".join(steps) + ";\nCOMMIT"


_resets: dict[str, Reset] = {}


def reset(url: str, how: Reset) -> bool:
    """Empty the database at `url` back to its template's state; False (nothing done) when
    its schema is no longer the template's or the reset failed."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    cluster = shared_cluster()
    try:
        # a connection a test left open (a pool not closed) must not hold a lock we need
        cluster.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            f" WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        )
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("SET lock_timeout = '5s'")
            if conn.execute(FINGERPRINT).fetchone()[0] != how.fingerprint:  # type: ignore[index]
                return False
            conn.execute(how.sql.encode())
    except psycopg.Error:
        return False
    return True


def fresh_database() -> str:
    """A database holding the current schema and nothing else: a used one emptied (see
    above), else a new copy of a template migrated once. Databases of finished tests that
    cannot be reused are dropped first."""
    cluster = shared_cluster()
    while _finished:
        cluster.drop(_finished.pop())
    template = cluster.template(TEMPLATE, _migrate)
    if template not in _resets:  # read from the first copy (a template takes no connections)
        url = cluster.fresh(template)
        _resets[template] = Reset(url)
        _reusable.add(url)
        return url
    while _stock:
        url = _stock.pop()
        if reset(url, _resets[template]):
            return url
        _reusable.discard(url)
        cluster.drop(url)
    url = cluster.fresh(template)
    _reusable.add(url)
    return url


def new_database_url() -> str:
    """A new database without any schema (what an operator creates before `migrate`)."""
    return shared_cluster().create()


def drop_database(url: str) -> None:
    """A test is done with its database: emptied and reused when the next test asks for
    one (the last checks after a test still read it; the cluster goes at the end anyway)."""
    (_stock if url in _reusable else _finished).append(url)


# tests import this module as `pg_cluster` (conftest, from tests/ on sys.path) and as
# `tests.pg_cluster`: one module, so one server per process
sys.modules.setdefault("pg_cluster", sys.modules[__name__])
sys.modules.setdefault("tests.pg_cluster", sys.modules[__name__])

if __name__ == "__main__" and sys.argv[1:2] == ["watch"]:  # the watcher (see `watch`)
    _watcher(int(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4]))
