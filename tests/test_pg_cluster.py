"""The throwaway PostgreSQL server the suite's PostgreSQL half runs on (tests/pg_cluster.py)."""

from __future__ import annotations

import pytest

from tests import pg_cluster

REASON = pg_cluster.unavailable()
pytestmark = pytest.mark.skipif(REASON is not None, reason=REASON or "")


def test_a_cluster_starts_answers_copies_a_template_and_stops():
    import psycopg

    cluster = pg_cluster.start_cluster()
    try:
        assert cluster.url().startswith("postgresql://postgres@127.0.0.1:")
        with psycopg.connect(cluster.url()) as conn:
            version = conn.execute("SHOW server_version_num").fetchone()[0]
            assert int(version) >= 150000
            assert conn.execute("SHOW fsync").fetchone()[0] == "off"

        def setup(url: str) -> None:
            with psycopg.connect(url) as conn:
                conn.execute("CREATE TABLE kept (n integer)")
                conn.execute("INSERT INTO kept VALUES (7)")

        tpl = cluster.template("tpl_probe", setup)
        assert cluster.template("tpl_probe", setup) == tpl  # made once
        first, second = cluster.fresh(tpl), cluster.fresh(tpl)
        assert first != second
        with psycopg.connect(first) as conn:
            conn.execute("INSERT INTO kept VALUES (8)")
        with psycopg.connect(second) as conn:  # each test's copy is its own
            assert conn.execute("SELECT n FROM kept").fetchall() == [(7,)]
        cluster.drop(first)
        names = {r[0] for r in cluster.execute("SELECT datname FROM pg_database")}
        assert first.rsplit("/", 1)[1] not in names
        assert second.rsplit("/", 1)[1] in names
    finally:
        cluster.stop()
    assert not cluster.folder.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(cluster.url(), connect_timeout=2)


def test_missing_binaries_give_a_reason(monkeypatch):
    monkeypatch.setattr(pg_cluster, "bindir", lambda: None)
    reason = pg_cluster.unavailable()
    assert reason is not None and "initdb" in reason and "skipped" in reason
