"""The suite's PostgreSQL databases are reused (tests/pg_cluster.py): a finished test's
database is emptied back to the migrated template's state for the next test instead of
being dropped and copied again. What the next test gets must be indistinguishable from a
new copy: no row left (audit_events too, whose triggers refuse DELETE), the template's
own rows back, every sequence restarted, the triggers working again; a database whose
schema a test changed, or a database that could not be reset, is never handed out."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests import pg_cluster

REASON = pg_cluster.unavailable()
needs_server = pytest.mark.skipif(REASON is not None, reason=REASON or "")

AUDIT = (
    "INSERT INTO audit_events (subject, actor_id, action, created_at)"
    " VALUES ('appeal:1', 7, 'filed', '2026-03-10T02:00:00.000000Z') RETURNING id"
)


def state(url: str) -> dict[str, object]:
    """Every table's rows and every sequence's position."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]  # fmt: skip
        found: dict[str, object] = {
            t: sorted(map(repr, conn.execute(f'SELECT * FROM "{t}"').fetchall())) for t in tables
        }
        found["sequences"] = conn.execute(
            "SELECT sequencename, last_value FROM pg_sequences ORDER BY 1"
        ).fetchall()
        return found


def used(url: str) -> None:
    """What a test does to its database: rows in many tables, sequences moved on."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(AUDIT)
        conn.execute(AUDIT)
        conn.execute("DELETE FROM appeal_tally_basis")
        conn.execute("SELECT nextval('appeals_id_seq')")


def next_database(url: str) -> str:
    pg_cluster.drop_database(url)
    return pg_cluster.fresh_database()


@needs_server
def test_a_reused_database_is_the_template_again():
    import psycopg

    first = pg_cluster.fresh_database()
    pristine = state(first)
    assert pristine["schema_migrations"], "the template holds its migrations' records"
    used(first)
    assert state(first) != pristine
    second = next_database(first)
    assert second == first  # reused, not copied again
    assert state(second) == pristine
    with psycopg.connect(second, autocommit=True) as conn:
        assert conn.execute(AUDIT).fetchone() == (1,)  # ids start again at 1
        with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
            conn.execute("DELETE FROM audit_events")  # the triggers hold again
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            conn.execute(
                "INSERT INTO audit_events (subject, appeal_id, action, created_at)"
                " VALUES ('appeal:9', 9, 'x', '2026-03-10T02:00:00.000000Z')"
            )
    pg_cluster.drop_database(second)


@needs_server
@pytest.mark.parametrize(
    "change",
    [
        "ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_delete",
        "DROP INDEX audit_events_appeal",
        "ALTER TABLE appeals ADD COLUMN extra integer",
        "CREATE TABLE leftover (n integer)",
        "REVOKE ALL ON appeals FROM PUBLIC; GRANT SELECT ON appeals TO PUBLIC",
        "CREATE SCHEMA elsewhere",
    ],
)
def test_a_database_whose_schema_changed_is_not_handed_out_again(change):
    import psycopg

    url = pg_cluster.fresh_database()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(change.encode())
    other = next_database(url)
    assert other != url
    names = {r[0] for r in pg_cluster.shared_cluster().execute("SELECT datname FROM pg_database")}
    assert url.rsplit("/", 1)[1] not in names  # dropped
    with psycopg.connect(other, autocommit=True) as conn:
        assert conn.execute("SELECT to_regclass('leftover')").fetchone() == (None,)
    pg_cluster.drop_database(other)


@needs_server
def test_a_connection_left_open_in_a_transaction_does_not_stop_the_reset():
    import psycopg

    url = pg_cluster.fresh_database()
    pristine = state(url)
    left = psycopg.connect(url)  # a test's pool that was never closed, mid-transaction
    left.execute(AUDIT)
    left.execute("LOCK TABLE appeals IN ACCESS EXCLUSIVE MODE")
    again = next_database(url)
    assert state(again) == pristine
    with pytest.raises(psycopg.OperationalError):  # it was ended, its work rolled back
        left.execute("SELECT 1")
    left.close()
    pg_cluster.drop_database(again)


WITHOUT_BINARIES = """
import sys
sys.path.insert(0, "tests")
import pg_cluster
pg_cluster.bindir = lambda: None  # a machine without PostgreSQL's initdb/pg_ctl
import pytest
# in this process (-n 0): the stand-in above does not reach worker processes
sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", "-n", "0", "-k", "open_database",
                      "tests/test_contract.py"]))
"""


def test_without_postgresql_the_sqlite_half_runs_and_the_last_line_says_why():
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_BINARIES],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[-2].startswith("database backends run: sqlite (1 test); skipped PostgreSQL: no")
    assert "initdb/pg_ctl" in lines[-2] and "apt-get install -y postgresql" in lines[-2]
    assert "1 passed" in lines[-1] and "1 skipped on PostgreSQL (no initdb/pg_ctl in" in lines[-1]
    assert " 1 skipped," not in lines[-1]  # counted once, as skipped on PostgreSQL
