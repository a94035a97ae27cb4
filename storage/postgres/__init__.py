"""The PostgreSQL backend: the same repositories (their SQL is shared) on psycopg 3.

`PostgresDatabase(url)` has the public face of storage.db.Database; see database.py for
the write path, connection.py for how rows come back, params.py for the parameters."""

from storage.postgres.database import PostgresDatabase, ServerUnusable

__all__ = ["PostgresDatabase", "ServerUnusable"]
