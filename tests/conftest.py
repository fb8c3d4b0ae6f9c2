"""Shared fixtures: a real PostgreSQL for every database test (never a mock of the database).

The server is ``DATABASE_URL`` when set, else the embedded one under ``$REELRANK_HOME`` (started if needed, and
stopped again at the end if this session started it). The schema is migrated once into a template database named
after the migrations' checksum; each test that asks for ``db_url`` gets a fresh clone of it (CREATE DATABASE …
TEMPLATE is a file copy, far cheaper than migrating). Databases left behind by a killed run are dropped at the next
session start.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

# reelrank.observability creates its Metrics at import, reading the namespace from the environment as Lambda sets it
# (Globals in template.yaml). Whichever test imports it first must not leave it without one for handlers run later.
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "Reelrank")

REPO_ROOT = Path(__file__).resolve().parents[1]
SQL_DIR = REPO_ROOT / "sql"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
TEST_DB_PREFIX = "reelrank_test_"


def _with_dbname(url: str, dbname: str) -> str:
    return make_conninfo(url, dbname=dbname)


def _schema_fingerprint() -> str:
    digest = hashlib.sha256()
    for path in sorted(SQL_DIR.glob("*.sql")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """URL of a maintenance database on the test server (``postgres``)."""
    import os

    external = os.environ.get("DATABASE_URL")
    started_here = False
    if external:
        base = external
    else:
        from reelrank_dev import embedded

        started_here = not embedded.is_running()
        base = embedded.start()
    admin = _with_dbname(base, "postgres")
    _drop_leftover_databases(admin)
    yield admin
    if started_here:
        from reelrank_dev import embedded

        embedded.stop()


def _drop_leftover_databases(admin_url: str) -> None:
    """Drop per-test databases a killed run left behind (nobody is connected to them)."""
    with psycopg.connect(admin_url, autocommit=True) as conn:
        rows = conn.execute(
            """
            SELECT d.datname FROM pg_database d
            WHERE d.datname LIKE %s
              AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.datname = d.datname)
            """,
            (TEST_DB_PREFIX + "%",),
        ).fetchall()
        for (name,) in rows:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


@pytest.fixture(scope="session")
def template_db(pg_admin_url: str) -> str:
    """Name of a migrated template database for the current migrations (built once, reused across runs)."""
    from reelrank.db.migrations import apply_migrations

    name = f"reelrank_tmpl_{_schema_fingerprint()}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        # one builder at a time (parallel sessions), keyed on the template's name
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (name,))
        try:
            row = conn.execute("SELECT datistemplate FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if row is None or not row[0]:
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                with psycopg.connect(_with_dbname(pg_admin_url, name), autocommit=True) as tconn:
                    apply_migrations(tconn, SQL_DIR)
                # marks it complete: a template only becomes one after a successful migration
                conn.execute(sql.SQL("ALTER DATABASE {} WITH IS_TEMPLATE true").format(sql.Identifier(name)))
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (name,))
    return name


def create_test_database(admin_url: str, template: str) -> str:
    """Clone ``template`` into a uniquely named database; returns its URL."""
    name = f"{TEST_DB_PREFIX}{uuid.uuid4().hex[:16]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))
    return _with_dbname(admin_url, name)


def drop_test_database(admin_url: str, url: str) -> None:
    name = conninfo_to_dict(url)["dbname"]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(str(name))))


@pytest.fixture
def db_url(pg_admin_url: str, template_db: str) -> Iterator[str]:
    """A fresh, fully migrated database for one test."""
    url = create_test_database(pg_admin_url, template_db)
    yield url
    drop_test_database(pg_admin_url, url)


@pytest.fixture
def db(db_url: str) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection to the test's own database."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def empty_db_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh database with no schema at all (for migration tests)."""
    name = f"{TEST_DB_PREFIX}{uuid.uuid4().hex[:16]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = _with_dbname(pg_admin_url, name)
    yield url
    drop_test_database(pg_admin_url, url)
